//! The Kubernetes adapter. Every call made for a person goes through a
//! [`UserClient`], which can only be built from a verified session and
//! carries either the person's own access token (passthrough, over a
//! connection pool without the portal's client certificate) or
//! `Impersonate-User` / `Impersonate-Group` with the configured prefix.

use crate::auth::SignedIn;
use crate::config::{Config, KubeIdentity};
use crate::error::AppError;
use crate::identity::is_impersonable;
use hyper_util::client::legacy::{Client as HyperClient, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ConfigExt};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower::{BoxError, ServiceBuilder};

type SharedHttp = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

/// Records each call to the API server (verb, resource, status, time to the
/// answer's headers) in the process's metrics.
#[derive(Clone)]
struct Measured<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Measured<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let started = std::time::Instant::now();
        // A client span under the request's (exported when traces are on):
        // what was asked of which resource, and the answer's status.
        let (verb, resource) = crate::platform::metrics::kube_call(&method, &uri);
        let span = tracing::info_span!("kubernetes", otel.name = %format!("kubernetes {verb} {resource}"), otel.kind = "client",
            k8s.verb = %verb, k8s.resource = %resource, http.response.status_code = tracing::field::Empty);
        let answer = self.inner.call(req);
        Box::pin(
            async move {
                let res = answer.await;
                let code = res.as_ref().ok().map(|r| r.status().as_u16());
                if let Some(code) = code {
                    tracing::Span::current().record("http.response.status_code", i64::from(code));
                }
                crate::platform::metrics::metrics().kube(&method, &uri, code, started.elapsed());
                res
            }
            .instrument(span),
        )
    }
}

/// Connection pools to the API server: one as the portal (its own watches,
/// and impersonation), one without any client identity for people's tokens.
#[derive(Clone)]
pub struct KubeGateway {
    base: kube::Config,
    http: SharedHttp,
    /// The cluster's address and CA, no credentials: people's own tokens go here.
    people: kube::Config,
    people_http: SharedHttp,
    identity: KubeIdentity,
    prefix: String,
    /// Calls made to the API server since start (for metrics and benchmarks).
    calls: Arc<AtomicU64>,
}

/// Why the gateway could not be set up (at start-up only).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot read kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("cannot configure the in-cluster client: {0}")]
    InCluster(#[from] kube::config::InClusterError),
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

/// A pool of connections to the API server with `cfg`'s TLS (and client certificate, if any).
fn pool(cfg: &kube::Config) -> Result<SharedHttp, GatewayError> {
    let mut connector = HttpConnector::new();
    connector.enforce_http(false);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    connector.set_nodelay(true);
    let https = cfg.rustls_https_connector_with_connector(connector)?;
    Ok(HyperClient::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(90)).build(https))
}

impl KubeGateway {
    pub async fn new(config: &Config) -> Result<KubeGateway, GatewayError> {
        let mut base = match &config.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path)?;
                kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?
            }
            None => kube::Config::incluster()?,
        };
        // The portal never acts on its own behalf, whatever the kubeconfig says.
        base.auth_info.impersonate = None;
        base.auth_info.impersonate_groups = None;
        base.read_timeout = Some(Duration::from_secs(30));
        let http = pool(&base)?;
        // NB: a client certificate would win over a bearer token at the API
        // server, so people's tokens never travel on the portal's connections.
        let mut people = base.clone();
        people.auth_info = kube::config::AuthInfo::default();
        let people_http = pool(&people)?;
        let k = &config.kubernetes;
        Ok(KubeGateway { base, http, people, people_http, identity: k.identity, prefix: k.prefix.clone(), calls: Arc::default() })
    }

    /// A client acting as the signed-in person.
    pub fn for_user(&self, who: &SignedIn) -> Result<UserClient, AppError> {
        let identity = who.identity();
        if !is_impersonable(&identity.username) {
            return Err(AppError::Forbidden("This account cannot be used with the portal.".into()));
        }
        match self.identity {
            KubeIdentity::Passthrough => {
                let token = who.access_token().ok_or(AppError::Unauthorized)?;
                let mut cfg = self.people.clone();
                cfg.auth_info.token = Some(token.to_owned().into());
                let client = self.client_with(&cfg, &self.people_http).map_err(AppError::internal)?;
                Ok(UserClient { client, username: identity.username.clone(), prefix: self.prefix.clone() })
            }
            KubeIdentity::Impersonation => self.impersonating(&identity.username, &identity.groups),
        }
    }

    fn impersonating(&self, user: &str, groups: &[String]) -> Result<UserClient, AppError> {
        if !is_impersonable(user) {
            return Err(AppError::Forbidden("This account cannot be used with the portal.".into()));
        }
        let mut cfg = self.base.clone();
        cfg.auth_info.impersonate = Some(format!("{}{user}", self.prefix));
        cfg.auth_info.impersonate_groups =
            Some(groups.iter().filter(|g| is_impersonable(g)).map(|g| format!("{}{g}", self.prefix)).collect());
        let client = self.client_with(&cfg, &self.http).map_err(AppError::internal)?;
        Ok(UserClient { client, username: user.to_owned(), prefix: self.prefix.clone() })
    }

    /// What the API server puts before names from the identity provider.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The portal's own client, for what no person does: watching notebooks
    /// for the live list and stopping idle ones (decision 0007).
    pub fn portal_client(&self) -> Result<kube::Client, AppError> {
        self.client_with(&self.base, &self.http).map_err(AppError::internal)
    }

    /// How many calls the portal has made to the API server.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn client_with(&self, cfg: &kube::Config, http: &SharedHttp) -> kube::Result<kube::Client> {
        let calls = self.calls.clone();
        let service = ServiceBuilder::new()
            .map_request(move |req: http::Request<Body>| {
                calls.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(method = %req.method(), uri = %req.uri(), "kubernetes call");
                req
            })
            .layer(tower::layer::layer_fn(|inner| Measured { inner }))
            .layer(cfg.base_uri_layer())
            .option_layer(cfg.auth_layer()?)
            .layer(cfg.extra_headers_layer()?)
            .map_err(BoxError::from)
            .service(http.clone());
        Ok(kube::Client::new(service, cfg.default_namespace.clone()))
    }

    /// Teams whose member RoleBindings (made by the portal) name this user or
    /// one of their groups. Read with the portal's own identity, which may
    /// list RoleBindings and nothing else; what the person may actually see
    /// is then asked as the person.
    pub async fn bound_teams(&self, user: &str, groups: &[String]) -> Result<Vec<String>, AppError> {
        use k8s_openapi::api::rbac::v1::RoleBinding;
        let client = self.client_with(&self.base, &self.http).map_err(AppError::internal)?;
        let (user, groups) = (format!("{}{user}", self.prefix), groups.iter().map(|g| format!("{}{g}", self.prefix)).collect::<Vec<_>>());
        let lp = kube::api::ListParams::default().labels("atrium.io/member=true");
        let list = kube::Api::<RoleBinding>::all(client).list(&lp).await.map_err(|e| explain(e, "team memberships"))?;
        let mut teams: Vec<String> = list
            .items
            .into_iter()
            .filter(|b| {
                b.subjects.iter().flatten().any(|s| {
                    (s.kind == "User" && s.name == user) || (s.kind == "Group" && groups.iter().any(|g| *g == s.name))
                })
            })
            .filter_map(|b| b.metadata.namespace)
            .collect();
        teams.sort();
        teams.dedup();
        Ok(teams)
    }

    /// Asks the API server's public `/readyz` with the portal's own identity.
    pub async fn ready(&self) -> Result<(), String> {
        let client = self.client_with(&self.base, &self.http).map_err(|e| e.to_string())?;
        let req = http::Request::get("/readyz").body(Vec::new()).map_err(|e| e.to_string())?;
        client.request_text(req).await.map(|_| ()).map_err(|e| match e {
            kube::Error::Api(s) => format!("not ready ({})", s.code),
            _ => "unreachable".to_string(),
        })
    }

    /// Test support: a client for an arbitrary user, as if signed in.
    #[cfg(feature = "test-support")]
    pub fn for_test_user(&self, user: &str, groups: &[String]) -> Result<UserClient, AppError> {
        self.impersonating(user, groups)
    }
}

/// A Kubernetes client bound to one signed-in person. It exists only for a
/// verified session; Kubernetes RBAC decides every call made with it.
#[derive(Clone)]
pub struct UserClient {
    client: kube::Client,
    username: String,
    prefix: String,
}

impl UserClient {
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The person's username as the identity provider gave it.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// A user or group name as RBAC subjects carry it.
    pub fn subject_name(&self, name: &str) -> String {
        if name.starts_with(&self.prefix) { name.to_string() } else { format!("{}{name}", self.prefix) }
    }

    /// A subject's name as people know it (the prefix taken off).
    pub fn person_name<'a>(&self, subject: &'a str) -> &'a str {
        subject.strip_prefix(self.prefix.as_str()).unwrap_or(subject)
    }
}

/// Turns a Kubernetes refusal into a sentence; `what` names the object in
/// the user's words ("team “team-a”"). Unexpected errors are logged.
pub fn explain(err: kube::Error, what: &str) -> AppError {
    match err {
        kube::Error::Api(status) => {
            tracing::info!(code = status.code, reason = %status.reason, message = %status.message, "kubernetes refused");
            match status.code {
                403 if status.message.contains("exceeded quota") => AppError::QuotaExceeded(format!(
                    "This would exceed your team's quota: {}",
                    quota_detail(&status.message)
                )),
                403 => match admission_refusal(&status.message) {
                    Some(why) => AppError::Forbidden(format!("Kubernetes refused {what}: {why}.")),
                    None => AppError::Forbidden(format!("You do not have access to {what}.")),
                },
                404 => AppError::NotFound(format!("There is no {what}, or it was removed.")),
                409 => AppError::Conflict(format!(
                    "{} was changed by someone else or already exists. Reload and try again.",
                    capitalise(what)
                )),
                422 => AppError::Invalid(format!("Kubernetes did not accept {what}: {}", invalid_detail(&status.message))),
                401 => AppError::Internal("auth".into()),
                _ => AppError::internal(format!("kubernetes {}: {}", status.code, status.message)),
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            tracing::warn!(error = %err, "kubernetes unreachable");
            AppError::KubernetesUnavailable
        }
        other => AppError::internal(other),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The part of a quota refusal a person needs: which resource, how much is
/// asked and how much is left ("GPUs (requests.nvidia.com/gpu): asked 2, 1 left of 2").
pub fn quota_detail(message: &str) -> String {
    let Some(detail) = message.split_once("exceeded quota:").and_then(|(_, rest)| rest.split_once(',')).map(|(_, d)| d.trim())
    else {
        return "the request is larger than what is left.".into();
    };
    let section = |label: &str| -> BTreeMap<String, String> {
        detail
            .split_once(label)
            .map(|(_, rest)| rest.split(", ").next().unwrap_or(""))
            .unwrap_or("")
            .split(',')
            .filter_map(|kv| kv.trim().split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect()
    };
    let (asked, used, limited) = (section("requested: "), section("used: "), section("limited: "));
    let parts: Vec<String> = asked
        .iter()
        .filter_map(|(resource, amount)| {
            let (used, limit) = (used.get(resource)?, limited.get(resource)?);
            let left = crate::quantity::parse(limit)? - crate::quantity::parse(used)?;
            let over = crate::quantity::parse(amount)? > left;
            over.then(|| {
                format!("{}: asked {amount}, {} left of {limit}", crate::model::quota::resource_label(resource), fmt_left(left.max(0.0), limit))
            })
        })
        .collect();
    if parts.is_empty() { detail.to_string() } else { parts.join("; ") }
}

/// What is left, in the limit's unit where it has one.
fn fmt_left(left: f64, limit: &str) -> String {
    let unit = limit.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let factor = crate::quantity::parse(&format!("1{unit}")).unwrap_or(1.0);
    let v = left / factor;
    let v = if (v - v.round()).abs() < 1e-9 { format!("{}", v.round()) } else { format!("{v:.2}") };
    format!("{v}{unit}")
}

/// What Pod Security admission or one of the portal's own admission
/// policies (`deploy/chart/atrium/templates/policies/`, named `atrium-…`, written for people) said.
fn admission_refusal(message: &str) -> Option<String> {
    if let Some((_, rest)) = message.split_once("violates PodSecurity ") {
        // `"restricted:latest": privileged (container "main" must not set …), …`
        let detail = rest.split_once(": ").map_or(rest, |(_, d)| d);
        return Some(format!("the team's Pod Security policy (restricted) forbids {detail}"));
    }
    // A controller's admission webhook (e.g. KServe's validator) says why in its own words.
    if let Some((hook, why)) = message.split_once(" denied the request: ")
        && hook.contains("admission webhook ")
    {
        return Some(why.trim().to_string());
    }
    let (policy, why) = message.split_once(" denied request: ")?;
    policy.contains("ValidatingAdmissionPolicy 'atrium-").then(|| why.to_string())
}

/// Validation messages name fields; keep what follows the object's name.
fn invalid_detail(message: &str) -> String {
    message.rsplit_once("is invalid: ").map(|(_, d)| d).unwrap_or(message).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_refusals_say_what_is_asked_and_left() {
        let m = "pods \"x\" is forbidden: exceeded quota: atrium-quota, requested: pods=1, used: pods=40, limited: pods=40";
        assert_eq!(quota_detail(m), format!("{}: asked 1, 0 left of 40", crate::model::quota::resource_label("pods")));
        let m = "pods \"nb-0\" is forbidden: exceeded quota: atrium-quota, requested: limits.memory=8Gi,requests.nvidia.com/gpu=2, used: limits.memory=2Gi,requests.nvidia.com/gpu=1, limited: limits.memory=128Gi,requests.nvidia.com/gpu=2";
        let words = quota_detail(m);
        assert!(words.contains("asked 2, 1 left of 2"), "{words}");
        assert!(!words.contains("limits.memory") && !words.contains("Memory limit"), "only what is short: {words}");
        let m = "exceeded quota: q, requested: requests.memory=8Gi, used: requests.memory=60Gi, limited: requests.memory=64Gi";
        assert!(quota_detail(m).contains("asked 8Gi, 4Gi left of 64Gi"), "{}", quota_detail(m));
    }

    #[test]
    fn invalid_messages_drop_the_prefix() {
        let m = "Namespace \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\": a lowercase RFC 1123 label must consist of";
        assert!(invalid_detail(m).starts_with("metadata.name: Invalid value"));
    }

    #[test]
    fn admission_refusals_say_why() {
        let m = "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"main\" must not set securityContext.privileged=true)";
        assert_eq!(
            admission_refusal(m).as_deref(),
            Some("the team's Pod Security policy (restricted) forbids privileged (container \"main\" must not set securityContext.privileged=true)")
        );
        let m = "admission webhook \"inferenceservice.kserve-webhook-server.validator\" denied the request: canary \"v2\" must not set maxReplicas (canary uses fixed replicas)";
        assert_eq!(admission_refusal(m).as_deref(), Some("canary \"v2\" must not set maxReplicas (canary uses fixed replicas)"));
        let m = "services \"s\" is forbidden: ValidatingAdmissionPolicy 'atrium-team-services' with binding 'atrium-team-services' denied request: a team may only have ClusterIP Services";
        assert_eq!(admission_refusal(m).as_deref(), Some("a team may only have ClusterIP Services"));
        let m = "x is forbidden: ValidatingAdmissionPolicy 'someone-else' with binding 'b' denied request: internal detail";
        assert_eq!(admission_refusal(m), None, "only our own policies speak to people");
        assert_eq!(admission_refusal("secrets is forbidden: User \"paula\" cannot list resource \"secrets\""), None);
    }

    #[test]
    fn capitalises_first_letter() {
        assert_eq!(capitalise("team “a”"), "Team “a”");
    }
}
