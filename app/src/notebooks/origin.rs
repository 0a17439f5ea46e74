//! Where a notebook is served: an origin of its own, built from a pattern
//! such as `https://{team}--{name}.notebooks.example.org`. JavaScript a
//! notebook serves then runs on that origin, never on the portal's, so it
//! cannot act as whoever opens the notebook (JupyterHub's subdomain mode).

/// A parsed origin pattern: `scheme://{before}{team}{between}{name}{after}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    before: String,
    between: String,
    after: String,
}

impl OriginPattern {
    /// Checks and parses a pattern; both placeholders must sit in the host,
    /// `{team}` first, separated by something.
    pub fn parse(pattern: &str) -> Result<OriginPattern, String> {
        let (scheme, authority) = pattern
            .split_once("://")
            .filter(|(s, _)| matches!(*s, "http" | "https"))
            .ok_or_else(|| format!("notebook origin {pattern:?} must start with http:// or https://"))?;
        let authority = authority.trim_end_matches('/');
        if authority.contains('/') {
            return Err(format!("notebook origin {pattern:?} must not have a path"));
        }
        let (before, rest) = authority
            .split_once("{team}")
            .ok_or_else(|| format!("notebook origin {pattern:?} must contain {{team}}"))?;
        let (between, after) =
            rest.split_once("{name}").ok_or_else(|| format!("notebook origin {pattern:?} must contain {{name}} after {{team}}"))?;
        if between.is_empty() || after.contains('{') || before.contains(['{', ':']) || between.contains([':', '{']) {
            return Err(format!("notebook origin {pattern:?}: put {{team}} and {{name}} in the host, with a separator such as \"--\" between them"));
        }
        let lower = |s: &str| s.to_ascii_lowercase();
        Ok(OriginPattern { scheme: scheme.into(), before: lower(before), between: lower(between), after: lower(after) })
    }

    /// The origin of one notebook, e.g. `http://team-a--churn.localhost:3000`.
    pub fn origin(&self, team: &str, name: &str) -> String {
        format!("{}://{}", self.scheme, self.host(team, name))
    }

    /// The `Host` browsers send for one notebook.
    pub fn host(&self, team: &str, name: &str) -> String {
        format!("{}{team}{}{name}{}", self.before, self.between, self.after)
    }

    /// The host without its port, to compare with the portal's.
    pub fn hostname(&self, team: &str, name: &str) -> String {
        let host = self.host(team, name);
        match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
            _ => host,
        }
    }

    pub fn secure(&self) -> bool {
        self.scheme == "https"
    }

    /// Every (team, name) a `Host` header could stand for. More than one
    /// when a name contains the separator; the caller keeps those that exist.
    pub fn candidates(&self, host: &str) -> Vec<(String, String)> {
        let host = host.to_ascii_lowercase();
        let Some(middle) = host.strip_prefix(&self.before).and_then(|h| h.strip_suffix(&self.after)) else {
            return Vec::new();
        };
        middle
            .match_indices(&self.between)
            .map(|(at, sep)| (&middle[..at], &middle[at + sep.len()..]))
            .filter(|(team, name)| is_label(team) && is_label(name))
            .map(|(team, name)| (team.to_string(), name.to_string()))
            .collect()
    }
}

/// A DNS label as Kubernetes names namespaces and notebooks.
pub fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The default pattern for a portal at `public_url`: on `localhost`, every
/// `*.localhost` is a site of its own that browsers resolve to loopback.
/// Elsewhere there is no safe default: the pattern must be configured.
pub fn default_pattern(public_url: &str) -> Option<String> {
    let url = url::Url::parse(public_url).ok()?;
    (url.host_str()? == "localhost").then(|| {
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{{team}}--{{name}}.localhost{port}", url.scheme())
    })
}

/// Refuses a pattern whose notebooks would share the portal's site: the
/// portal's own host, or a host under it (a single-label host such as
/// `localhost` is a public suffix, so hosts under it are sites of their own).
pub fn check_apart(pattern: &OriginPattern, public_url: &str) -> Result<(), String> {
    let portal = url::Url::parse(public_url).map_err(|e| e.to_string())?;
    let portal_host = portal.host_str().unwrap_or_default().to_ascii_lowercase();
    let sample = pattern.hostname("team", "notebook");
    let under = sample.ends_with(&format!(".{portal_host}")) && portal_host.contains('.');
    if sample == portal_host || under {
        return Err(format!(
            "notebooks.origin puts notebooks on the portal's site ({portal_host}); use a separate domain, e.g. https://{{team}}--{{name}}.notebooks.example.net"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_reads_back_hosts() {
        let p = OriginPattern::parse("http://{team}--{name}.localhost:3000").unwrap();
        assert_eq!(p.origin("team-a", "churn"), "http://team-a--churn.localhost:3000");
        assert_eq!(p.candidates("team-a--churn.localhost:3000"), vec![("team-a".into(), "churn".into())]);
        assert_eq!(p.candidates("TEAM-A--churn.LOCALHOST:3000"), vec![("team-a".into(), "churn".into())]);
        assert!(p.candidates("team-a--churn.localhost:3001").is_empty(), "another port is another origin");
        assert!(p.candidates("localhost:3000").is_empty());
        assert!(p.candidates("evil.example").is_empty());
        assert!(p.candidates("x_y--z.localhost:3000").is_empty(), "not DNS labels");
    }

    #[test]
    fn a_separator_inside_a_name_gives_every_reading() {
        let p = OriginPattern::parse("https://{team}--{name}.nb.example.net").unwrap();
        let c = p.candidates("a--b--c.nb.example.net");
        assert_eq!(c, vec![("a".into(), "b--c".into()), ("a--b".into(), "c".into())]);
        assert!(p.secure());
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "ftp://{team}--{name}.x",
            "http://{team}{name}.x",
            "http://{name}--{team}.x",
            "http://x.example/{team}/{name}",
            "http://notebooks.example",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn notebooks_never_share_the_portals_site() {
        let local = OriginPattern::parse(&default_pattern("http://localhost:3000").unwrap()).unwrap();
        assert_eq!(local.origin("t", "n"), "http://t--n.localhost:3000");
        assert!(check_apart(&local, "http://localhost:3000").is_ok(), "*.localhost are sites of their own");
        let under = OriginPattern::parse("https://{team}--{name}.atrium.example.org").unwrap();
        assert!(check_apart(&under, "https://atrium.example.org").is_err());
        let apart = OriginPattern::parse("https://{team}--{name}.atrium-notebooks.example.net").unwrap();
        assert!(check_apart(&apart, "https://atrium.example.org").is_ok());
        assert_eq!(default_pattern("https://atrium.example.org"), None);
    }
}
