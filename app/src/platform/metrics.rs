//! What `/metrics` exports, kept with `prometheus-client` (decision 0020):
//! request latency per route, Kubernetes and MLflow calls by what they
//! asked and how they were answered, open streams and audit write failures.
//! The families are process-wide (every replica exports its own); the
//! values read from a replica's state at scrape time (database pool,
//! sessions, call totals) are added by the server's `/metrics` handler.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route's pattern (`/notebooks/{team}`), or a server function's
    /// path: never a raw path, so people's names never make new series.
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubeLabels {
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// `pods`, `inferenceservices.serving.kserve.io`, `pods/log`.
    pub resource: String,
    /// The HTTP status, or `error` when none came.
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MlflowLabels {
    /// The REST endpoint (`runs/search`), or `gateway` for workloads' calls.
    pub endpoint: String,
    pub code: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 1 ms to ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct Metrics {
    pub requests: Histograms<RequestLabels>,
    pub kube_calls: Family<KubeLabels, Counter>,
    pub kube_latency: Histograms<KubeLabels>,
    pub mlflow_calls: Family<MlflowLabels, Counter>,
    /// Server-sent event streams and proxied WebSockets open now.
    pub open_streams: Gauge,
    pub audit_write_failures: Counter,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    requests: Family::new_with_constructor(latency as fn() -> Histogram),
    kube_calls: Family::default(),
    kube_latency: Family::new_with_constructor(latency as fn() -> Histogram),
    mlflow_calls: Family::default(),
    open_streams: Gauge::default(),
    audit_write_failures: Counter::default(),
});

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    /// A registry holding the process-wide families (under `atrium_`), for
    /// the caller to add its per-state values to and encode.
    pub fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("atrium");
        r.register_with_unit("http_request_duration", "Requests served, by route, method and status", Unit::Seconds, self.requests.clone());
        r.register("kubernetes_requests", "Calls made to the Kubernetes API server, by verb, resource and status", self.kube_calls.clone());
        r.register_with_unit("kubernetes_request_duration", "Time to the API server's answer, by verb, resource and status", Unit::Seconds, self.kube_latency.clone());
        r.register("mlflow_requests", "Calls made to the MLflow tracking server, by endpoint and status", self.mlflow_calls.clone());
        r.register("open_streams", "Event streams and proxied WebSockets open now", self.open_streams.clone());
        r.register("audit_write_failures", "Audit entries that could not be written or completed", self.audit_write_failures.clone());
        r
    }

    pub fn request(&self, method: &str, route: String, status: u16, took: Duration) {
        let labels = RequestLabels { method: method.to_string(), route, status: status.to_string() };
        self.requests.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn kube(&self, method: &http::Method, uri: &http::Uri, code: Option<u16>, took: Duration) {
        let (verb, resource) = kube_call(method, uri);
        let labels = KubeLabels { verb, resource, code: code.map_or_else(|| "error".to_string(), |c| c.to_string()) };
        self.kube_calls.get_or_create(&labels).inc();
        self.kube_latency.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn mlflow(&self, endpoint: &str, code: Option<u16>) {
        let labels = MlflowLabels { endpoint: endpoint.to_string(), code: code.map_or_else(|| "error".to_string(), |c| c.to_string()) };
        self.mlflow_calls.get_or_create(&labels).inc();
    }
}

/// What a replica adds at scrape time, read from its own state.
#[derive(Clone, Debug, Default)]
pub struct Scraped {
    /// Totals since start, as tests and benches have read them.
    pub kube_calls: u64,
    pub mlflow_calls: u64,
    /// The database pool: connections open, idle, and the most it opens.
    pub db_open: u32,
    pub db_idle: u32,
    pub db_max: u32,
    /// Sessions not yet expired (all replicas share them); `None` when the
    /// database did not answer.
    pub sessions: Option<i64>,
}

/// The OpenMetrics text of the process's families and `scraped`.
pub fn encode(scraped: &Scraped) -> String {
    let mut r = metrics().registry();
    let counter = |v: u64| {
        let c: Counter = Counter::default();
        c.inc_by(v);
        c
    };
    let gauge = |v: i64| {
        let g: Gauge = Gauge::default();
        g.set(v);
        g
    };
    r.register("kubernetes_calls", "Calls made to the Kubernetes API server", counter(scraped.kube_calls));
    r.register("mlflow_calls", "Calls made to the MLflow tracking server", counter(scraped.mlflow_calls));
    r.register("db_connections_open", "Database connections open in this replica's pool", gauge(i64::from(scraped.db_open)));
    r.register("db_connections_idle", "Open database connections not in use", gauge(i64::from(scraped.db_idle)));
    r.register("db_connections_max", "The most database connections this replica opens", gauge(i64::from(scraped.db_max)));
    if let Some(n) = scraped.sessions {
        r.register("active_sessions", "Sessions not yet expired, across replicas", gauge(n));
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &r);
    out
}

/// The content type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Counts a stream as open until dropped.
pub struct OpenStream(());

impl OpenStream {
    pub fn new() -> OpenStream {
        metrics().open_streams.inc();
        OpenStream(())
    }
}

impl Default for OpenStream {
    fn default() -> Self {
        OpenStream::new()
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics().open_streams.dec();
    }
}

/// An MLflow REST path as a label: the endpoint after `/api/2.0/mlflow/`
/// (or `/api/3.0/mlflow/`), without its query; ids in the path are cut off.
pub fn mlflow_endpoint(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let rest = ["/api/2.0/mlflow/", "/api/3.0/mlflow/", "/ajax-api/2.0/mlflow/"].iter().find_map(|p| path.strip_prefix(p));
    match rest {
        Some(r) => {
            let mut parts = r.split('/');
            let noun = parts.next().unwrap_or_default();
            // The second part is the call (`search`), unless it names something.
            match parts.next() {
                Some(call) if noun != "workspaces" && call.chars().all(|c| c.is_ascii_lowercase() || c == '-') => format!("{noun}/{call}"),
                _ => noun.to_string(),
            }
        }
        None => path.trim_start_matches('/').split('/').next().unwrap_or_default().to_string(),
    }
}

/// The verb and resource of a call to the API server, as its audit log and
/// its own metrics name them.
pub fn kube_call(method: &http::Method, uri: &http::Uri) -> (String, String) {
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return (method.as_str().to_ascii_lowercase(), format!("/{}", segments.first().copied().unwrap_or_default())),
    };
    // `namespaces/<ns>/<resource>…` is a namespaced resource; `namespaces/<ns>` alone is a namespace.
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let (resource, named, sub) = match rest {
        [] => ("", false, None),
        [r] => (*r, false, None),
        [r, _name] => (*r, true, None),
        [r, _name, sub, ..] => (*r, true, Some(*sub)),
    };
    let mut resource = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
    if let Some(sub) = sub {
        resource = format!("{resource}/{sub}");
    }
    let watching = uri.query().is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match *method {
        http::Method::GET if watching => "watch",
        http::Method::GET if named => "get",
        http::Method::GET => "list",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE if named => "delete",
        http::Method::DELETE => "deletecollection",
        _ => return (method.as_str().to_ascii_lowercase(), resource),
    };
    (verb.to_string(), resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(m: http::Method, uri: &str) -> (String, String) {
        let (v, r) = kube_call(&m, &uri.parse().unwrap());
        (v, r)
    }

    #[test]
    fn calls_are_named_by_verb_and_resource_never_by_object() {
        let s = |v: &str, r: &str| (v.to_string(), r.to_string());
        assert_eq!(call(http::Method::GET, "/api/v1/namespaces/team-a/pods"), s("list", "pods"));
        assert_eq!(call(http::Method::GET, "/api/v1/namespaces/team-a/pods?watch=true&resourceVersion=1"), s("watch", "pods"));
        assert_eq!(call(http::Method::GET, "/api/v1/namespaces/team-a/pods/churn-0/log?follow=true"), s("get", "pods/log"));
        assert_eq!(call(http::Method::GET, "/api/v1/namespaces/team-a"), s("get", "namespaces"));
        assert_eq!(call(http::Method::PUT, "/apis/serving.kserve.io/v1beta1/namespaces/team-b/inferenceservices/churn"), s("update", "inferenceservices.serving.kserve.io"));
        assert_eq!(call(http::Method::POST, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"), s("create", "selfsubjectaccessreviews.authorization.k8s.io"));
        assert_eq!(call(http::Method::DELETE, "/api/v1/namespaces/team-a/pods?labelSelector=x"), s("deletecollection", "pods"));
        assert_eq!(call(http::Method::PATCH, "/api/v1/namespaces/team-a"), s("patch", "namespaces"));
        assert_eq!(call(http::Method::GET, "/readyz"), s("get", "/readyz"));
    }

    #[test]
    fn the_text_has_every_family_and_the_totals_tests_read() {
        metrics().kube(&http::Method::GET, &"/api/v1/namespaces/t/pods".parse().unwrap(), Some(200), Duration::from_millis(3));
        metrics().request("GET", "/notebooks/{team}".into(), 200, Duration::from_millis(12));
        let text = encode(&Scraped { kube_calls: 7, mlflow_calls: 2, db_open: 3, db_idle: 1, db_max: 8, sessions: Some(4) });
        assert!(text.lines().any(|l| l == "atrium_kubernetes_calls_total 7"), "{text}");
        assert!(text.lines().any(|l| l == "atrium_mlflow_calls_total 2"), "{text}");
        assert!(text.contains("atrium_kubernetes_requests_total{verb=\"list\",resource=\"pods\",code=\"200\"}"), "{text}");
        assert!(text.contains("atrium_http_request_duration_seconds_count{method=\"GET\",route=\"/notebooks/{team}\",status=\"200\"} "), "{text}");
        assert!(text.contains("atrium_http_request_duration_seconds_bucket{le=\"0.016\",method=\"GET\",route=\"/notebooks/{team}\",status=\"200\"} "), "{text}");
        assert!(text.contains("atrium_active_sessions 4") && text.contains("atrium_db_connections_max 8"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn mlflow_endpoints_carry_no_ids() {
        assert_eq!(mlflow_endpoint("/api/2.0/mlflow/runs/search"), "runs/search");
        assert_eq!(mlflow_endpoint("/api/2.0/mlflow/registered-models/get?name=churn"), "registered-models/get");
        assert_eq!(mlflow_endpoint("/api/3.0/mlflow/workspaces/team-a"), "workspaces");
        assert_eq!(mlflow_endpoint("/ajax-api/2.0/mlflow/logged-models/m-123/artifacts/files"), "logged-models");
        assert_eq!(mlflow_endpoint("/get-artifact?run_id=x"), "get-artifact");
    }
}
