//! The database URL, which may carry a password (`postgres://user:pw@host/db`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// `sqlite://…` or `postgres://…`, read as a plain string. `Debug` prints it
/// with any password replaced by `[redacted]`, so logging the configuration
/// is safe.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with the password of its user info, and any `…password=`
    /// query parameter, replaced by `[redacted]`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return self.0.clone();
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        format!("{scheme}://{}{}", redact_user_info(authority), redact_query(tail))
    }
}

fn redact_user_info(authority: &str) -> String {
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{user}:[redacted]@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    }
}

fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.to_ascii_lowercase().ends_with("password") => format!("{k}=[redacted]"),
            _ => p.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

/// NB: lets `&config.database_url` stand for `&str` where a connection is made.
impl std::ops::Deref for DatabaseUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for DatabaseUrl {
    fn from(s: String) -> Self {
        DatabaseUrl(s)
    }
}

impl From<&str> for DatabaseUrl {
    fn from(s: &str) -> Self {
        DatabaseUrl(s.to_string())
    }
}

impl PartialEq<&str> for DatabaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        let url = DatabaseUrl::from("postgres://u:pw@h/db");
        assert_eq!(url.redacted(), "postgres://u:[redacted]@h/db");
        assert_eq!(format!("{url:?}"), "\"postgres://u:[redacted]@h/db\"");
        let url = DatabaseUrl::from("postgresql://u:p@ss:w@h:5432/db?sslmode=require&password=pw2");
        assert_eq!(url.redacted(), "postgresql://u:[redacted]@h:5432/db?sslmode=require&password=[redacted]");
        assert_eq!(url.expose(), "postgresql://u:p@ss:w@h:5432/db?sslmode=require&password=pw2");
    }

    #[test]
    fn urls_without_passwords_are_unchanged() {
        for url in ["sqlite://atrium.db?mode=rwc", "postgres://u@h/db", "postgres://h/db", "not a url"] {
            assert_eq!(DatabaseUrl::from(url).redacted(), url);
        }
    }
}
