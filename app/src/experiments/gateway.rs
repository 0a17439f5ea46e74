//! MLflow for workloads: notebooks (and later pipeline steps) log to their
//! team's experiments with a plain MLflow client, through the portal.
//!
//! `MLFLOW_TRACKING_URI` is `<portal>/mlflow/<team>` and
//! `MLFLOW_TRACKING_TOKEN` a token of the workload's own ServiceAccount,
//! which the client sends as a Bearer token. Here:
//! 1. the token is checked with a TokenReview; only ServiceAccounts of the
//!    team's own namespace get through (a person's session is never used);
//! 2. the call is allowed by Kubernetes RBAC for that ServiceAccount
//!    (SubjectAccessReview, Kubeflow's `mlflow.kubeflow.org` names), so one
//!    RoleBinding decides for people and workloads alike;
//! 3. it goes on to MLflow in the team's workspace, set here whatever the
//!    client sent; MLflow's workspace-management API is not served at all;
//! 4. a new run is tagged with the notebook it came from (`atrium.notebook`),
//!    so the run page links back to it.
//!
//! Answers (tokens, rights) are remembered for [`REMEMBER`]: a revoked token
//! (its Secret deleted) stops working within that time.

use crate::error::AppError;
use crate::notebooks::manifest::ACCOUNT_SUFFIX;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::{Api, PostParams};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a token's review and a right are remembered.
pub const REMEMBER: Duration = Duration::from_secs(10);
/// The tag naming the notebook a run was logged from.
pub const NOTEBOOK_TAG: &str = "atrium.notebook";
/// The ServiceAccount pipeline steps run as (their namespace's default).
const PIPELINE_ACCOUNT: &str = "default";

/// A workload, as a TokenReview named it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Workload {
    username: String,
    uid: Option<String>,
    groups: Vec<String>,
    namespace: String,
    account: String,
}

type RightKey = (String, String, &'static str, &'static str);

#[derive(Default)]
pub struct WorkloadCache {
    tokens: Mutex<HashMap<String, (Instant, Option<Workload>)>>,
    rights: Mutex<HashMap<RightKey, (Instant, bool)>>,
}

impl WorkloadCache {
    /// Who holds `token`: `None` when Kubernetes does not know it or it is
    /// not a ServiceAccount's.
    async fn review(&self, portal: &kube::Client, token: &str) -> Result<Option<Workload>, kube::Error> {
        let key = crate::platform::tokens::digest(token);
        if let Some((at, who)) = self.tokens.lock().unwrap().get(&key)
            && at.elapsed() < REMEMBER
        {
            return Ok(who.clone());
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_string(),
                audiences: None,
            },
            ..Default::default()
        };
        let answer = Api::<TokenReview>::all(portal.clone()).create(&PostParams::default(), &review).await?;
        let who = answer.status.filter(|s| s.authenticated == Some(true)).and_then(|s| s.user).and_then(|u| {
            let username = u.username?;
            let (namespace, account) = username.strip_prefix("system:serviceaccount:")?.split_once(':')?;
            Some(Workload {
                namespace: namespace.into(),
                account: account.into(),
                uid: u.uid,
                groups: u.groups.unwrap_or_default(),
                username,
            })
        });
        let mut tokens = self.tokens.lock().unwrap();
        tokens.retain(|_, (at, _)| at.elapsed() < REMEMBER);
        tokens.insert(key, (Instant::now(), who.clone()));
        Ok(who)
    }

    /// Whether RBAC lets the workload `verb` the team's `resource`.
    async fn may(&self, portal: &kube::Client, who: &Workload, team: &str, resource: &'static str, verb: &'static str) -> Result<bool, kube::Error> {
        let key = (who.username.clone(), team.to_string(), resource, verb);
        if let Some((at, allowed)) = self.rights.lock().unwrap().get(&key)
            && at.elapsed() < REMEMBER
        {
            return Ok(*allowed);
        }
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(who.username.clone()),
                uid: who.uid.clone(),
                groups: Some(who.groups.clone()),
                resource_attributes: Some(ResourceAttributes {
                    group: Some(super::api::GROUP.into()),
                    resource: Some(resource.into()),
                    verb: Some(verb.into()),
                    namespace: Some(team.into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = Api::<SubjectAccessReview>::all(portal.clone()).create(&PostParams::default(), &review).await?;
        let allowed = answer.status.is_some_and(|s| s.allowed);
        let mut rights = self.rights.lock().unwrap();
        rights.retain(|_, (at, _)| at.elapsed() < REMEMBER);
        rights.insert(key, (Instant::now(), allowed));
        Ok(allowed)
    }
}

/// What a call of MLflow's REST API needs, as (resource, verb) of
/// `mlflow.kubeflow.org`; `None` for anything the gateway does not serve.
pub fn needs(method: &Method, rest: &str) -> Option<(&'static str, &'static str)> {
    if rest.split('/').any(|seg| seg == ".." || seg == ".") {
        return None;
    }
    // The client asks this first; it says what the server supports.
    if rest == "api/3.0/mlflow/server-info" {
        return (method == Method::GET).then_some(("experiments", "get"));
    }
    if let Some(artifacts) = rest.strip_prefix("api/2.0/mlflow-artifacts/") {
        if !(artifacts.starts_with("artifacts") || artifacts.starts_with("mpu/")) {
            return None;
        }
        let verb = match *method {
            Method::GET | Method::HEAD => "get",
            Method::PUT | Method::POST => "update",
            Method::DELETE => "delete",
            _ => return None,
        };
        return Some(("experiments", verb));
    }
    let endpoint = rest.strip_prefix("api/2.0/mlflow/")?;
    if endpoint.is_empty() {
        return None;
    }
    let resource = if endpoint.starts_with("registered-models") || endpoint.starts_with("model-versions") {
        "registeredmodels"
    } else {
        "experiments"
    };
    let last = endpoint.rsplit('/').next().unwrap_or_default();
    let verb = match (method, last) {
        (&Method::GET, "search" | "list") | (&Method::POST, "search") => "list",
        (&Method::GET, _) => "get",
        (&Method::DELETE, _) | (&Method::POST, "delete") => "delete",
        // Logging a run, a version, a tag: a change of what exists.
        (&Method::POST, "create") if matches!(endpoint, "experiments/create" | "registered-models/create") => "create",
        (&Method::POST | &Method::PATCH | &Method::PUT, _) => "update",
        _ => return None,
    };
    Some((resource, verb))
}

/// An answer in MLflow's own error shape, so its client shows the message.
fn answer(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error_code": code, "message": message }).to_string();
    let mut res = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    res
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

/// `/mlflow/{team}/{*rest}`.
pub async fn forward(State(state): State<AppState>, Path((team, rest)): Path<(String, String)>, req: Request) -> Response {
    let Some(mlflow) = state.mlflow.as_ref() else {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "TEMPORARILY_UNAVAILABLE",
            "No tracking server is set up for this portal.",
        );
    };
    let method = req.method().clone();
    let Some((resource, verb)) = needs(&method, &rest) else {
        return answer(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", "The portal's MLflow gateway does not serve this.");
    };
    let Some(token) = bearer(req.headers()) else {
        return answer(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Send the workload's ServiceAccount token (MLFLOW_TRACKING_TOKEN) as a Bearer token.",
        );
    };
    let portal = match state.kube.portal_client() {
        Ok(c) => c,
        Err(e) => return failed(&e.to_string()),
    };
    let who = match mlflow.workloads.review(&portal, token).await {
        Ok(Some(who)) => who,
        Ok(None) => {
            tracing::info!(
                team,
                "MLflow gateway: a token Kubernetes does not accept (revoked, expired, or not a ServiceAccount's)"
            );
            return answer(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "This token is not valid (revoked, expired, or not a workload's).",
            );
        }
        Err(e) => return failed(&format!("token review: {e}")),
    };
    if who.namespace != team {
        tracing::warn!(team, namespace = %who.namespace, account = %who.account, "MLflow gateway: a workload asked for another team's experiments");
        return answer(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!("This workload belongs to another team than “{team}”."),
        );
    }
    match mlflow.workloads.may(&portal, &who, &team, resource, verb).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(team, account = %who.account, resource, verb, "MLflow gateway: refused by RBAC");
            let what = if matches!(verb, "get" | "list") { "read" } else { "change" };
            return answer(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                &format!("Workloads of team “{team}” may not {what} its {resource}."),
            );
        }
        Err(e) => return failed(&format!("access review: {e}")),
    }
    let path_and_query = match req.uri().query() {
        Some(q) => format!("/{rest}?{q}"),
        None => format!("/{rest}"),
    };
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // MLflow's server does not read chunked request bodies: each body goes
    // on with its length. Artifact uploads stream through (up to
    // `mlflow.max_artifact_megabytes`); API calls are read whole (up to the
    // portal's request limit), a new run's to tag it.
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let upload = rest.starts_with("api/2.0/mlflow-artifacts/") && matches!(method, Method::PUT | Method::POST);
    let mut effect = Effect::None;
    let (body, length) = if upload {
        let Some(length) = declared else {
            return answer(StatusCode::LENGTH_REQUIRED, "INVALID_PARAMETER_VALUE", "Send the file's length (Content-Length).");
        };
        let max = state.config.mlflow.max_artifact_megabytes.saturating_mul(1 << 20);
        if length > max {
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "INVALID_PARAMETER_VALUE", &format!("Files over {} MB are not taken.", state.config.mlflow.max_artifact_megabytes));
        }
        (reqwest::Body::wrap_stream(req.into_body().into_data_stream()), length)
    } else {
        let Ok(bytes) = axum::body::to_bytes(req.into_body(), state.config.max_body_bytes).await else {
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "INVALID_PARAMETER_VALUE", "The request is too large.");
        };
        let bytes: axum::body::Bytes = if method == Method::POST && rest == "api/2.0/mlflow/runs/create" {
            match tag_source(&bytes, &who.account) {
                Some(tagged) => tagged.into(),
                None => return answer(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "The request body is not a JSON object."),
            }
        } else {
            bytes
        };
        if method == Method::POST {
            effect = effect_of(&rest, &bytes);
        }
        let length = bytes.len() as u64;
        (reqwest::Body::from(bytes), length)
    };
    let sent = match mlflow.relay(&team, method, &path_and_query, content_type.as_deref(), body, length).await {
        Ok(res) => res,
        Err(AppError::TrackingServerUnavailable) => {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "TEMPORARILY_UNAVAILABLE",
                "The tracking server is not answering.",
            );
        }
        Err(e) => return failed(&e.to_string()),
    };
    if sent.status().is_success() {
        match effect {
            Effect::None => {}
            Effect::Logged(run) => mlflow.forget_histories(&team, &run),
            Effect::Ended(run) => {
                mlflow.forget_histories(&team, &run);
                let state = state.clone();
                tokio::spawn(async move {
                    if let Some(mlflow) = state.mlflow.as_ref()
                        && let Err(e) = mlflow.warm_charts(&team, &run).await
                    {
                        tracing::info!(team, run, error = %e, "MLflow gateway: could not sample a finished run's charts ahead");
                    }
                });
            }
        }
    }
    let mut res = Response::builder().status(sent.status().as_u16());
    for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::CONTENT_DISPOSITION] {
        if let Some(v) = sent.headers().get(&name) {
            res = res.header(name, v.clone());
        }
    }
    res.body(Body::from_stream(sent.bytes_stream())).unwrap_or_else(|e| failed(&e.to_string()))
}

/// What a workload's call changes that the portal keeps.
#[derive(Debug, PartialEq)]
enum Effect {
    None,
    /// The run logged metrics: its kept histories are stale.
    Logged(String),
    /// The run ended: its charts are sampled ahead.
    Ended(String),
}

fn effect_of(rest: &str, body: &[u8]) -> Effect {
    let Some(call) = rest.strip_prefix("api/2.0/mlflow/runs/") else {
        return Effect::None;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Effect::None;
    };
    let Some(run) = v["run_id"].as_str().or(v["run_uuid"].as_str()).map(str::to_owned) else {
        return Effect::None;
    };
    match call {
        "log-metric" | "log-batch" => Effect::Logged(run),
        "update" if v["status"].as_str().is_some_and(super::model::finished) => Effect::Ended(run),
        _ => Effect::None,
    }
}

/// `/mlflow/{team}/`: where the links an MLflow client prints lead (its UI);
/// people get the team's experiments in the portal instead.
pub async fn open_in_portal(Path(team): Path<String>) -> Response {
    if !team.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return answer(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", "No such team.");
    }
    axum::response::Redirect::to(&format!("/experiments/{team}")).into_response()
}

fn failed(detail: &str) -> Response {
    tracing::error!(detail, "MLflow gateway failed");
    answer(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "The portal could not handle this call.")
}

/// A new run's request with the notebook it comes from as a tag (replacing
/// any such tag the client sent); `None` when the body is not an object.
/// The pipeline run a step's run names (its client sends the tag, from
/// `MLFLOW_RUN_CONTEXT`, see `pipelines::workflow::tracking_patch`) is kept
/// only from the ServiceAccount pipeline steps run as, and only if it is a
/// run's name; a notebook cannot pass its runs off as a pipeline's.
fn tag_source(body: &[u8], account: &str) -> Option<Vec<u8>> {
    use crate::pipelines::workflow::PIPELINE_RUN_TAG;
    let mut run: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = run.as_object_mut()?;
    let tags = obj.entry("tags").or_insert_with(|| serde_json::json!([]));
    let list = tags.as_array_mut()?;
    let a_run_name = |v: &str| {
        !v.is_empty() && v.len() <= 253 && v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    list.retain(|t| match t.get("key").and_then(|k| k.as_str()) {
        Some(NOTEBOOK_TAG) => false,
        Some(PIPELINE_RUN_TAG) => account == PIPELINE_ACCOUNT && t.get("value").and_then(|v| v.as_str()).is_some_and(a_run_name),
        _ => true,
    });
    if let Some(notebook) = account.strip_suffix(ACCOUNT_SUFFIX) {
        list.push(serde_json::json!({ "key": NOTEBOOK_TAG, "value": notebook }));
    }
    serde_json::to_vec(&run).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_needs_its_right() {
        let n = |m: Method, p: &str| needs(&m, p);
        assert_eq!(n(Method::GET, "api/3.0/mlflow/server-info"), Some(("experiments", "get")));
        assert_eq!(n(Method::POST, "api/2.0/mlflow/experiments/create"), Some(("experiments", "create")));
        assert_eq!(n(Method::GET, "api/2.0/mlflow/experiments/get-by-name"), Some(("experiments", "get")));
        assert_eq!(n(Method::POST, "api/2.0/mlflow/runs/search"), Some(("experiments", "list")));
        assert_eq!(n(Method::POST, "api/2.0/mlflow/runs/create"), Some(("experiments", "update")));
        assert_eq!(n(Method::POST, "api/2.0/mlflow/runs/log-batch"), Some(("experiments", "update")));
        assert_eq!(n(Method::POST, "api/2.0/mlflow/experiments/delete"), Some(("experiments", "delete")));
        assert_eq!(n(Method::POST, "api/2.0/mlflow/registered-models/create"), Some(("registeredmodels", "create")));
        assert_eq!(n(Method::GET, "api/2.0/mlflow/registered-models/search"), Some(("registeredmodels", "list")));
        assert_eq!(
            n(Method::PUT, "api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl"),
            Some(("experiments", "update"))
        );
        assert_eq!(n(Method::GET, "api/2.0/mlflow-artifacts/artifacts"), Some(("experiments", "get")));
    }

    #[test]
    fn workspaces_and_anything_else_are_not_served() {
        for (m, p) in [
            (Method::POST, "api/3.0/mlflow/workspaces"),
            (Method::GET, "api/3.0/mlflow/workspaces/team-b"),
            (Method::DELETE, "api/3.0/mlflow/workspaces/team-a"),
            (Method::POST, "api/3.0/mlflow/server-info"),
            (Method::GET, "ajax-api/2.0/mlflow/runs/get"),
            (Method::GET, "api/2.0/mlflow/../../api/3.0/mlflow/workspaces"),
            (Method::GET, "api/2.0/mlflow-artifacts/../mlflow/runs/get"),
            (Method::GET, "static-files/index.html"),
            (Method::GET, "api/2.0/mlflow/"),
        ] {
            assert_eq!(needs(&m, p), None, "{m} {p}");
        }
    }

    #[test]
    fn only_pipeline_steps_name_a_pipeline_run() {
        let body = br#"{"experiment_id":"1","tags":[{"key":"atrium.pipeline-run","value":"train-x7k2p"}]}"#;
        let tags = |account: &str| -> serde_json::Value { serde_json::from_slice::<serde_json::Value>(&tag_source(body, account).unwrap()).unwrap()["tags"].clone() };
        assert_eq!(tags("default"), serde_json::json!([{ "key": "atrium.pipeline-run", "value": "train-x7k2p" }]));
        assert_eq!(tags("churn-notebook"), serde_json::json!([{ "key": "atrium.notebook", "value": "churn" }]), "a notebook's run is the notebook's");
        assert_eq!(tags("trainer"), serde_json::json!([]));
        let odd = br#"{"tags":[{"key":"atrium.pipeline-run","value":"../../admin"}]}"#;
        let kept: serde_json::Value = serde_json::from_slice(&tag_source(odd, "default").unwrap()).unwrap();
        assert_eq!(kept["tags"], serde_json::json!([]), "not a run's name");
    }

    #[test]
    fn a_new_run_names_its_notebook_and_no_other() {
        let body = br#"{"experiment_id":"1","tags":[{"key":"atrium.notebook","value":"someone-else"},{"key":"mine","value":"x"}]}"#;
        let tagged: serde_json::Value = serde_json::from_slice(&tag_source(body, "churn-notebook").unwrap()).unwrap();
        let tags = tagged["tags"].as_array().unwrap();
        assert_eq!(tags.len(), 2);
        assert!(tags.contains(&serde_json::json!({ "key": "atrium.notebook", "value": "churn" })));
        // Another kind of workload: the client's claim is dropped, nothing added.
        let other: serde_json::Value = serde_json::from_slice(&tag_source(body, "trainer").unwrap()).unwrap();
        assert_eq!(other["tags"], serde_json::json!([{ "key": "mine", "value": "x" }]));
        assert!(tag_source(b"[1]", "x-notebook").is_none());
    }

    #[test]
    fn bearer_tokens_only() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Basic dXNlcjpwYXNz".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc.def".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc.def"));
    }

    #[test]
    fn a_run_that_ends_is_charted_ahead_and_one_that_logs_is_forgotten() {
        assert_eq!(effect_of("api/2.0/mlflow/runs/update", br#"{"run_id":"r1","status":"FINISHED","end_time":1}"#), Effect::Ended("r1".into()));
        assert_eq!(effect_of("api/2.0/mlflow/runs/update", br#"{"run_id":"r1","status":"RUNNING"}"#), Effect::None);
        assert_eq!(effect_of("api/2.0/mlflow/runs/log-batch", br#"{"run_id":"r2","metrics":[]}"#), Effect::Logged("r2".into()));
        assert_eq!(effect_of("api/2.0/mlflow/runs/log-metric", br#"{"run_uuid":"r3","key":"k","value":1}"#), Effect::Logged("r3".into()));
        assert_eq!(effect_of("api/2.0/mlflow/runs/log-batch", b"not json"), Effect::None);
        assert_eq!(effect_of("api/2.0/mlflow/experiments/create", br#"{"name":"x"}"#), Effect::None);
    }

}
