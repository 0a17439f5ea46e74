//! `/healthz` (the process answers) and `/readyz` (its dependencies do).

use app::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use serde_json::json;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database and the Kubernetes API answer; each check is
/// named so an operator sees which one failed. The identity provider is
/// reported but never makes a replica unready: without it signed-in people
/// keep working (decision 0011), and as every replica shares it, failing
/// them all would only turn an outage of sign-in into an outage of the
/// portal. The body says `degraded` then.
pub async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    // Shutting down: no new people here, though this replica still serves.
    if state.lifecycle.phase() != app::lifecycle::Phase::Serving {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "draining" }))).into_response();
    }
    let (db, kube, idp) = tokio::join!(state.db.ping(), state.kube.ready(), state.oidc.check());
    let show = |r: Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e,
    };
    let db = show(db.map_err(|_| "unreachable".to_string()));
    let kube = show(kube);
    let idp = show(idp);
    let ready = db == "ok" && kube == "ok";
    let status = match (ready, idp == "ok") {
        (true, true) => "ready",
        (true, false) => "degraded",
        (false, _) => "not ready",
    };
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": status,
        "checks": { "database": db, "kubernetes": kube, "identity_provider": idp },
    });
    (code, Json(body)).into_response()
}

/// `/metrics` in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = format!(
        "# HELP atrium_kubernetes_calls_total Calls made to the Kubernetes API server.\n\
         # TYPE atrium_kubernetes_calls_total counter\n\
         atrium_kubernetes_calls_total {}\n\
         # HELP atrium_mlflow_calls_total Calls made to the MLflow tracking server.\n\
         # TYPE atrium_mlflow_calls_total counter\n\
         atrium_mlflow_calls_total {}\n",
        state.kube.calls(),
        state.mlflow.as_ref().map_or(0, |m| m.calls())
    );
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
