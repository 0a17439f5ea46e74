//! `/healthz` (the process answers) and `/readyz` (its dependencies do).

use app::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use serde_json::json;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database, the Kubernetes API and the identity provider
/// all answer; each check is named so an operator sees which one failed.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (db, kube, idp) = tokio::join!(state.db.ping(), state.kube.ready(), state.oidc.check());
    let show = |r: Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e,
    };
    let db = show(db.map_err(|_| "unreachable".to_string()));
    let kube = show(kube);
    let idp = show(idp);
    let ready = db == "ok" && kube == "ok" && idp == "ok";
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": { "database": db, "kubernetes": kube, "identity_provider": idp },
    });
    (status, Json(body))
}

/// `/metrics` in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = format!(
        "# HELP atrium_kubernetes_calls_total Calls made to the Kubernetes API server.\n\
         # TYPE atrium_kubernetes_calls_total counter\n\
         atrium_kubernetes_calls_total {}\n",
        state.kube.calls()
    );
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
