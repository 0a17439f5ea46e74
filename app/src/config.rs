//! The portal's one typed configuration, built from defaults, then an optional
//! TOML file (`ATRIUM_CONFIG`, default `atrium.toml` if present), then
//! `ATRIUM_`-prefixed environment variables (`__` separates levels, e.g.
//! `ATRIUM_OIDC__ISSUER_URL`). `DATABASE_URL` is honoured as well.

use crate::identity::IdentityMapping;
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use std::{fmt, net::SocketAddr, path::PathBuf};

/// A secret value: never printed, never logged.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"[redacted]\"" })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The URL people use to reach the portal; redirect URIs and the
    /// same-origin check derive from it.
    pub public_url: String,
    /// Folder holding the built site (`pkg/` with the WASM, JS and CSS).
    pub site_root: PathBuf,
    /// `sqlite://…` (default, one machine) or `postgres://…` (several replicas).
    pub database_url: String,
    /// Kubeconfig of the portal's own identity; unset means in-cluster.
    pub kubeconfig: Option<PathBuf>,
    pub oidc: OidcConfig,
    pub session: SessionConfig,
    pub identity: IdentityMapping,
    /// How long answers to "what may this user do" are reused, in seconds.
    pub access_cache_seconds: u64,
    /// `json` for machines, `pretty` for people.
    pub log_format: String,
    pub notebooks: NotebooksConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotebooksConfig {
    /// `auto` (Kubeflow `Notebook` when its CRD is installed, else
    /// StatefulSets), `kubeflow` or `statefulset`.
    pub backend: String,
    /// The portal's namespace, holding the notebook catalog.
    pub portal_namespace: String,
    /// Where a notebook's server answers, `{team}` and `{name}` replaced:
    /// its Service inside a cluster.
    pub upstream: String,
    /// A JSON file mapping "team/name" to an address, read on each request
    /// (the local stack, where pods do not really run).
    pub upstream_map_file: Option<PathBuf>,
    /// How often idle notebooks are looked for, in seconds.
    pub cull_interval_seconds: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OidcConfig {
    /// The issuer exactly as the provider announces it (no trailing slash).
    pub issuer_url: String,
    pub client_id: String,
    /// The client secret; prefer `client_secret_file` outside development.
    pub client_secret: Secret,
    /// A file holding the client secret (as mounted from a Kubernetes Secret).
    pub client_secret_file: Option<PathBuf>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// Claim holding the Kubernetes username.
    pub username_claim: UsernameClaim,
    /// Seconds before the ID token expires at which it is refreshed.
    pub refresh_margin_seconds: u64,
}

/// Which verified claim becomes the Kubernetes username.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernameClaim {
    PreferredUsername,
    Email,
    Sub,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    pub idle_minutes: u32,
    /// A session ends this long after sign-in, however busy.
    pub absolute_hours: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: "http://localhost:3000".into(),
            site_root: PathBuf::from("target/site"),
            database_url: "sqlite://atrium.db?mode=rwc".into(),
            kubeconfig: None,
            oidc: OidcConfig {
                issuer_url: "http://localhost:18080/realms/atrium".into(),
                client_id: "atrium-portal".into(),
                client_secret: Secret::default(),
                client_secret_file: None,
                scopes: vec!["profile".into(), "email".into()],
                username_claim: UsernameClaim::PreferredUsername,
                refresh_margin_seconds: 30,
            },
            session: SessionConfig { idle_minutes: 60, absolute_hours: 12 },
            identity: IdentityMapping::default(),
            access_cache_seconds: 30,
            log_format: "pretty".into(),
            notebooks: NotebooksConfig {
                backend: "auto".into(),
                portal_namespace: "atrium".into(),
                upstream: "http://{name}.{team}.svc.cluster.local".into(),
                upstream_map_file: None,
                cull_interval_seconds: 60,
            },
        }
    }
}

/// Why the configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration is invalid: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("cannot read {path}: {source}")]
    SecretFile { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Check(String),
}

impl Config {
    /// Builds the configuration from the process environment.
    pub fn load() -> Result<Config, ConfigError> {
        let file = std::env::var("ATRIUM_CONFIG").unwrap_or_else(|_| "atrium.toml".into());
        let mut figment = Figment::from(Serialized::defaults(Config::default())).merge(Toml::file(file));
        // The conventional DATABASE_URL, unless ATRIUM_DATABASE_URL says otherwise.
        if let (Ok(url), Err(_)) = (std::env::var("DATABASE_URL"), std::env::var("ATRIUM_DATABASE_URL")) {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        Self::from_figment(figment.merge(Env::prefixed("ATRIUM_").split("__")))
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let mut config: Config = figment.extract().map_err(Box::new)?;
        if let Some(path) = &config.oidc.client_secret_file {
            let secret = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::SecretFile { path: path.clone(), source })?;
            config.oidc.client_secret = Secret::new(secret.trim());
        }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let public = url::Url::parse(&self.public_url)
            .map_err(|e| ConfigError::Check(format!("public_url {:?} is not a URL: {e}", self.public_url)))?;
        if public.path() != "/" {
            return Err(ConfigError::Check("public_url must not have a path".into()));
        }
        if self.oidc.issuer_url.ends_with('/') {
            return Err(ConfigError::Check("oidc.issuer_url must not end with '/'".into()));
        }
        if !matches!(self.notebooks.backend.as_str(), "auto" | "kubeflow" | "statefulset") {
            return Err(ConfigError::Check(format!(
                "notebooks.backend must be auto, kubeflow or statefulset, not {:?}",
                self.notebooks.backend
            )));
        }
        if self.session.idle_minutes == 0 || self.session.absolute_hours == 0 {
            return Err(ConfigError::Check("session timeouts must be positive".into()));
        }
        Ok(())
    }

    /// The origin (`scheme://host:port`) browsers send for our own pages.
    pub fn public_origin(&self) -> String {
        self.public_url.trim_end_matches('/').to_string()
    }

    /// Cookies are `Secure` whenever people reach the portal over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn redirect_url(&self) -> String {
        format!("{}/auth/callback", self.public_origin())
    }

    pub fn signed_out_url(&self) -> String {
        format!("{}/signed-out", self.public_origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_then_file_then_environment() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "atrium.toml",
                r#"
                public_url = "https://atrium.example.org"
                access_cache_seconds = 10
                [oidc]
                client_id = "from-file"
                issuer_url = "https://sso.example.org/realms/x"
                "#,
            )?;
            jail.set_env("ATRIUM_OIDC__CLIENT_ID", "from-env");
            jail.set_env("ATRIUM_SESSION__IDLE_MINUTES", "5");
            let c = Config::load().expect("loads");
            assert_eq!(c.oidc.client_id, "from-env", "environment beats file");
            assert_eq!(c.oidc.issuer_url, "https://sso.example.org/realms/x", "file beats defaults");
            assert_eq!(c.access_cache_seconds, 10);
            assert_eq!(c.session.idle_minutes, 5);
            assert_eq!(c.session.absolute_hours, 12, "untouched default");
            assert!(c.secure_cookies());
            assert_eq!(c.redirect_url(), "https://atrium.example.org/auth/callback");
            Ok(())
        });
    }

    #[test]
    fn database_url_is_honoured_and_prefixed_env_wins() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("DATABASE_URL", "postgres://db/atrium");
            assert_eq!(Config::load().unwrap().database_url, "postgres://db/atrium");
            jail.set_env("ATRIUM_DATABASE_URL", "sqlite://other.db");
            assert_eq!(Config::load().unwrap().database_url, "sqlite://other.db");
            Ok(())
        });
    }

    #[test]
    fn secret_from_file_and_redacted_in_debug() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("secret.txt", "s3cr3t-value\n")?;
            jail.set_env("ATRIUM_OIDC__CLIENT_SECRET_FILE", "secret.txt");
            let c = Config::load().unwrap();
            assert_eq!(c.oidc.client_secret.expose(), "s3cr3t-value");
            let debug = format!("{c:?}");
            assert!(!debug.contains("s3cr3t-value"), "secret leaked into Debug: {debug}");
            assert!(debug.contains("[redacted]"));
            Ok(())
        });
    }

    #[test]
    fn unreadable_secret_file_and_bad_values_are_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("ATRIUM_OIDC__CLIENT_SECRET_FILE", "missing.txt");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("missing.txt"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("ATRIUM_SESSION__IDLE_MINUTES", "soon");
            assert!(matches!(Config::load(), Err(ConfigError::Invalid(_))));
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("ATRIUM_OIDC__ISSUER_URL", "http://kc/realms/a/");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("must not end with '/'"), "{err}");
            Ok(())
        });
    }
}
