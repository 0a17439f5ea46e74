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

mod database_url;
mod rate_limits;
pub use database_url::DatabaseUrl;
pub use rate_limits::RateLimits;

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
    /// `sqlite://…` (default, one machine) or `postgres://…` (several
    /// replicas); its password is redacted in `Debug`.
    pub database_url: DatabaseUrl,
    /// Kubeconfig of the portal's own identity; unset means in-cluster.
    pub kubeconfig: Option<PathBuf>,
    pub kubernetes: KubernetesConfig,
    pub oidc: OidcConfig,
    pub session: SessionConfig,
    pub identity: IdentityMapping,
    /// How long answers to "what may this user do" are reused, in seconds,
    /// when the portal cannot watch RBAC (its watches are starting, or down).
    pub access_cache_seconds: u64,
    /// How long they are reused while the portal watches RBAC, in seconds.
    /// Any change to a Role, RoleBinding, ClusterRole or ClusterRoleBinding
    /// forgets them at once; this is only a safety net (decision 0010).
    pub access_cache_watched_seconds: u64,
    /// `json` for machines, `pretty` for people.
    pub log_format: String,
    pub notebooks: NotebooksConfig,
    pub mlflow: MlflowConfig,
    /// S3-compatible storage for what the portal keeps beyond Kubernetes'
    /// lifetime of things (pipeline steps' logs, once their pods are gone).
    #[serde(default)]
    pub object_store: ObjectStoreConfig,
    #[serde(default)]
    pub pipelines: PipelinesConfig,
    #[serde(default)]
    pub models: ModelsConfig,
    /// The largest request body the portal accepts, in bytes; larger ones
    /// are answered 413. Notebook origins are not limited by it.
    pub max_body_bytes: usize,
    pub rate_limits: RateLimits,
    /// Whether the client's address is the last one in `X-Forwarded-For`
    /// (as added by the one proxy in front of the portal) rather than the
    /// TCP peer. Only for a proxy that always sets it: otherwise clients
    /// choose their own address and escape per-address limits.
    pub trust_forwarded_headers: bool,
    /// After SIGTERM, how long the replica keeps serving while `/readyz`
    /// says it is draining, so load balancers stop sending people here.
    pub shutdown_drain_seconds: u64,
    /// Then how long requests in flight may take to finish before the
    /// process exits anyway (live streams and sockets end at once).
    pub shutdown_grace_seconds: u64,
    /// Traces to an OpenTelemetry collector; off unless an endpoint is set.
    #[serde(default)]
    pub otel: OtelConfig,
}

/// Traces over OTLP/HTTP (protobuf): each request's span, with the portal's
/// calls to Kubernetes and MLflow under it, continuing a caller's trace
/// (W3C `traceparent`). Off by default (decision 0022).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct OtelConfig {
    /// The collector's OTLP/HTTP base address, e.g.
    /// `http://otel-collector.monitoring:4318` (traces go to `/v1/traces`).
    /// Empty: no traces.
    pub endpoint: String,
    /// `service.name` of the portal's spans.
    pub service_name: String,
    /// The share of traces the portal starts that are kept (0 to 1); a
    /// caller's sampling decision is followed.
    pub sample_ratio: f64,
}

impl Default for OtelConfig {
    fn default() -> Self {
        OtelConfig { endpoint: String::new(), service_name: "atrium".into(), sample_ratio: 1.0 }
    }
}

/// How the portal acts as people towards Kubernetes (decision 0012).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KubernetesConfig {
    /// `passthrough`: every call carries the person's own access token; the
    /// API server trusts the identity provider, and the portal's own
    /// identity needs no right to impersonate. `impersonation`: for clusters
    /// that cannot trust the provider; the portal impersonates the person
    /// and so must hold `impersonate` on users and groups.
    pub identity: KubeIdentity,
    /// What the API server puts before usernames and groups from the
    /// provider (its claim mappings' `prefix`): RoleBindings name people and
    /// groups with it, and impersonation adds it.
    pub prefix: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KubeIdentity {
    Passthrough,
    Impersonation,
}

/// The MLflow tracking server behind the experiments pages. The portal is its
/// only client and its gateway: people and notebooks never reach it directly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MlflowConfig {
    /// Its address, e.g. `http://mlflow.atrium.svc:5000`. Empty: the
    /// experiments pages say that no tracking server is set up.
    pub url: String,
    /// A call that takes longer is answered with "the tracking server is
    /// not answering", in seconds.
    pub timeout_seconds: u64,
    /// Where workloads (notebooks) reach the portal, for their
    /// `MLFLOW_TRACKING_URI` (the gateway is below it, at `/mlflow/<team>`):
    /// inside a cluster, the portal's Service, e.g.
    /// `http://atrium.atrium.svc:8080`. Empty: the public URL.
    #[serde(default)]
    pub workload_url: String,
    /// The largest artifact a workload may upload through the gateway, in
    /// MB (streamed; everything else it sends is held to `max_body_bytes`).
    #[serde(default = "default_max_artifact_megabytes")]
    pub max_artifact_megabytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelinesConfig {
    /// The Lease (in the portal's namespace) held by the one replica that
    /// archives finished steps' logs to the object store.
    pub log_archive_lease: String,
}

/// Serving models (KServe InferenceServices of MLflow models).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelsConfig {
    /// Where the object store keeps MLflow's served artifacts, as the
    /// cluster's model servers read it: a version stored at
    /// `mlflow-artifacts:/<path>` is served from `<artifacts_uri>/<path>`,
    /// e.g. `s3://atrium-mlflow`. Empty: versions stored there cannot be
    /// deployed (the page says so).
    pub artifacts_uri: String,
    /// The ClusterServingRuntime that serves MLflow models (MLServer, V2).
    pub runtime: String,
    /// The team's data connection (a labelled Secret) whose keys let a model
    /// server read its files; KServe is told about it by annotation.
    pub storage_connection: String,
    /// Whether the cluster's gateway splits traffic between a deployment's
    /// versions by the canary's share (Standard mode leaves that to it).
    /// False: the page says that requests reach the stable version only.
    pub gateway_splits_traffic: bool,
    /// The port on which the model servers' pods give their metrics
    /// (MLServer: 8082, its `metrics_port`), read for the requests each
    /// version answered.
    pub metrics_port: u16,
    /// A JSON file standing in for the model servers' pods (the local
    /// stack, where pods do not really run), read on each request:
    /// "team/deployment@version" maps to the address of the server of that
    /// version, and "team/deployment@version/metrics" to its metrics URL.
    /// Otherwise the addresses KServe reports and the pods' IPs are used.
    pub upstream_map_file: Option<PathBuf>,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig { artifacts_uri: String::new(), runtime: "kserve-mlserver".into(), storage_connection: "object-storage".into(), gateway_splits_traffic: false, metrics_port: 8082, upstream_map_file: None }
    }
}

impl Default for PipelinesConfig {
    fn default() -> Self {
        PipelinesConfig { log_archive_lease: "atrium-log-archiver".into() }
    }
}

/// An S3-compatible object store (any: MinIO on the local stack). The
/// portal's own credentials reach only its own bucket.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectStoreConfig {
    /// e.g. `http://minio.atrium.svc:9000`. Empty: no archive; step logs
    /// are read from Kubernetes only, and go when their pods go.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

fn default_max_artifact_megabytes() -> u64 {
    10 * 1024
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotebooksConfig {
    /// `auto` (Kubeflow `Notebook` when its CRD is installed, else
    /// StatefulSets), `kubeflow` or `statefulset`.
    pub backend: String,
    /// The portal's namespace, holding the notebook catalog.
    pub portal_namespace: String,
    /// Where people reach a notebook: an origin of its own, `{team}` and
    /// `{name}` replaced, e.g. `https://{team}--{name}.notebooks.example.net`
    /// (a wildcard DNS name and certificate pointing at the portal). It must
    /// be another site than the portal's, so a notebook's JavaScript cannot
    /// act as whoever opens it. Empty: `http://{team}--{name}.localhost:<port>`
    /// when the portal is on localhost; required anywhere else.
    pub origin: String,
    /// How long the one-time ticket that hands a person over to a
    /// notebook's origin stays valid, in seconds.
    pub ticket_seconds: u64,
    /// A JSON file mapping "team/name" to an address, read on each request
    /// (the local stack, where pods do not really run).
    pub upstream_map_file: Option<PathBuf>,
    /// How often idle notebooks are looked for, in seconds.
    pub cull_interval_seconds: u64,
    /// The idle-notebook culler runs on one replica at a time: the holder
    /// of this Lease in the portal's namespace.
    pub culler_lease: String,
    /// A replica that stops renewing the culler's Lease loses it after this
    /// many seconds.
    pub culler_lease_seconds: u64,
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
    /// Seconds before the tokens expire at which they are refreshed. Also the
    /// shortest identity-provider outage a person using the portal rides out
    /// unaffected: a refresh the provider cannot answer is retried while the
    /// tokens are still valid (decision 0011). Keep it below the provider's
    /// token lifetime (Keycloak: 5 minutes), or every request refreshes.
    pub refresh_margin_seconds: u64,
    /// How often, at most, the provider's discovery document and signing keys
    /// are fetched again, in minutes. A token signed with a key the portal
    /// does not know makes it fetch them at once.
    pub keys_refresh_minutes: u64,
    /// Reach the provider at this IP address instead of the one its host name
    /// resolves to (like curl's `--resolve`); the issuer URL, its port and the
    /// name its certificate is checked against stay as they are. For a
    /// provider reached through an internal address or a local proxy.
    pub provider_address: Option<std::net::IpAddr>,
    /// A PEM file of certificate authorities to trust for the provider,
    /// besides the system's (the local stack's own CA).
    pub ca_file: Option<PathBuf>,
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
            max_body_bytes: 2 << 20,
            rate_limits: RateLimits::default(),
            trust_forwarded_headers: false,
            shutdown_drain_seconds: 5,
            shutdown_grace_seconds: 20,
            otel: OtelConfig::default(),
            kubeconfig: None,
            kubernetes: KubernetesConfig { identity: KubeIdentity::Impersonation, prefix: "oidc:".into() },
            oidc: OidcConfig {
                issuer_url: "https://localhost:18443/realms/atrium".into(),
                client_id: "atrium-portal".into(),
                client_secret: Secret::default(),
                client_secret_file: None,
                scopes: vec!["profile".into(), "email".into()],
                username_claim: UsernameClaim::PreferredUsername,
                refresh_margin_seconds: 60,
                keys_refresh_minutes: 10,
                provider_address: None,
                ca_file: None,
            },
            session: SessionConfig { idle_minutes: 60, absolute_hours: 12 },
            identity: IdentityMapping::default(),
            access_cache_seconds: 30,
            access_cache_watched_seconds: 600,
            log_format: "pretty".into(),
            notebooks: NotebooksConfig {
                backend: "auto".into(),
                portal_namespace: "atrium".into(),
                origin: String::new(),
                ticket_seconds: 30,
                upstream_map_file: None,
                cull_interval_seconds: 60,
                culler_lease: "atrium-notebook-culler".into(),
                culler_lease_seconds: 15,
            },
            mlflow: MlflowConfig { url: String::new(), timeout_seconds: 5, workload_url: String::new(), max_artifact_megabytes: default_max_artifact_megabytes() },
            object_store: ObjectStoreConfig::default(),
            pipelines: PipelinesConfig::default(),
            models: ModelsConfig::default(),
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
        if self.oidc.keys_refresh_minutes == 0 {
            return Err(ConfigError::Check("oidc.keys_refresh_minutes must be positive".into()));
        }
        if !matches!(self.notebooks.backend.as_str(), "auto" | "kubeflow" | "statefulset") {
            return Err(ConfigError::Check(format!(
                "notebooks.backend must be auto, kubeflow or statefulset, not {:?}",
                self.notebooks.backend
            )));
        }
        let origins = self.notebook_origins().map_err(ConfigError::Check)?;
        crate::notebooks::origin::check_apart(&origins, &self.public_url).map_err(ConfigError::Check)?;
        if self.session.idle_minutes == 0 || self.session.absolute_hours == 0 {
            return Err(ConfigError::Check("session timeouts must be positive".into()));
        }
        if !(0.0..=1.0).contains(&self.otel.sample_ratio) {
            return Err(ConfigError::Check(format!("otel.sample_ratio must be between 0 and 1, not {}", self.otel.sample_ratio)));
        }
        if !self.otel.endpoint.is_empty() && url::Url::parse(&self.otel.endpoint).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
            return Err(ConfigError::Check(format!("otel.endpoint {:?} is not an http(s) URL", self.otel.endpoint)));
        }
        let limits = &self.rate_limits;
        if self.max_body_bytes == 0 || limits.sign_ins_per_minute == 0 || limits.server_functions_per_minute == 0 {
            return Err(ConfigError::Check("max_body_bytes and rate limits must be positive".into()));
        }
        Ok(())
    }

    /// The origin (`scheme://host:port`) browsers send for our own pages.
    /// Where notebooks reach the MLflow gateway; `None` without MLflow.
    pub fn tracking_base(&self) -> Option<String> {
        if self.mlflow.url.trim().is_empty() {
            return None;
        }
        let base = if self.mlflow.workload_url.trim().is_empty() {
            &self.public_url
        } else {
            &self.mlflow.workload_url
        };
        Some(base.trim().trim_end_matches('/').to_string())
    }

    pub fn public_origin(&self) -> String {
        self.public_url.trim_end_matches('/').to_string()
    }

    /// Where notebooks are served: the configured pattern, or the local default.
    pub fn notebook_origins(&self) -> Result<crate::notebooks::origin::OriginPattern, String> {
        let pattern = match self.notebooks.origin.as_str() {
            "" => crate::notebooks::origin::default_pattern(&self.public_url).ok_or_else(|| {
                "notebooks.origin must be set when the portal is not on localhost, e.g. https://{team}--{name}.notebooks.example.net".to_string()
            })?,
            p => p.to_string(),
        };
        crate::notebooks::origin::OriginPattern::parse(&pattern)
    }

    /// Cookies are `Secure` whenever people reach the portal over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The session cookie's name. Under https it carries the `__Host-`
    /// prefix, so browsers accept it only as `Secure`, host-only and for
    /// path `/`: a sibling subdomain cannot plant or shadow it.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.secure_cookies() { "__Host-atrium_session" } else { "atrium_session" }
    }

    /// The identity provider's origin (`scheme://host[:port]`), where
    /// sign-out sends the browser.
    pub fn identity_provider_origin(&self) -> String {
        url::Url::parse(&self.oidc.issuer_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
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
                [notebooks]
                origin = "https://{team}--{name}.notebooks.example.net"
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
    fn notebooks_need_an_origin_of_their_own_away_from_localhost() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            assert_eq!(Config::load().unwrap().notebook_origins().unwrap().origin("t", "n"), "http://t--n.localhost:3000");
            jail.set_env("ATRIUM_PUBLIC_URL", "https://atrium.example.org");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("notebooks.origin must be set"), "{err}");
            jail.set_env("ATRIUM_NOTEBOOKS__ORIGIN", "https://{team}--{name}.atrium.example.org");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("on the portal's site"), "{err}");
            jail.set_env("ATRIUM_NOTEBOOKS__ORIGIN", "https://{team}--{name}.nb.example.net");
            assert!(Config::load().unwrap().notebook_origins().unwrap().secure());
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
    fn database_password_is_redacted_in_debug() {
        let config = Config { database_url: "postgres://u:pw@h/db".into(), ..Config::default() };
        let debug = format!("{config:?}");
        assert!(!debug.contains("pw"), "password leaked into Debug: {debug}");
        assert!(debug.contains("postgres://u:[redacted]@h/db"), "{debug}");
        assert_eq!(config.database_url.expose(), "postgres://u:pw@h/db");
    }

    #[test]
    fn session_cookie_has_the_host_prefix_under_https() {
        let mut config = Config::default();
        assert_eq!(config.session_cookie_name(), "atrium_session");
        config.public_url = "https://atrium.example.org".into();
        assert_eq!(config.session_cookie_name(), "__Host-atrium_session");
    }

    #[test]
    fn identity_provider_origin_drops_the_path() {
        let mut config = Config::default();
        assert_eq!(config.identity_provider_origin(), "https://localhost:18443");
        config.oidc.issuer_url = "https://sso.example.org/realms/x".into();
        assert_eq!(config.identity_provider_origin(), "https://sso.example.org");
    }

    #[test]
    fn limits_have_defaults_and_come_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let c = Config::load().unwrap();
            assert_eq!((c.max_body_bytes, c.rate_limits.sign_ins_per_minute, c.rate_limits.server_functions_per_minute), (2 << 20, 20, 300));
            assert!(!c.trust_forwarded_headers);
            jail.set_env("ATRIUM_MAX_BODY_BYTES", "1024");
            jail.set_env("ATRIUM_RATE_LIMITS__SIGN_INS_PER_MINUTE", "5");
            jail.set_env("ATRIUM_TRUST_FORWARDED_HEADERS", "true");
            let c = Config::load().unwrap();
            assert_eq!((c.max_body_bytes, c.rate_limits.sign_ins_per_minute), (1024, 5));
            assert!(c.trust_forwarded_headers);
            jail.set_env("ATRIUM_RATE_LIMITS__SERVER_FUNCTIONS_PER_MINUTE", "0");
            assert!(matches!(Config::load(), Err(ConfigError::Check(_))));
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
