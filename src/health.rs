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

/// `/metrics` in the OpenMetrics text format (app/src/platform/metrics.rs).
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    use app::platform::metrics::{CONTENT_TYPE, Scraped, encode};
    let (db_open, db_idle, db_max) = state.db.pool_use();
    let sessions = match state.db.active_sessions().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: sessions not counted");
            None
        }
    };
    let scraped = Scraped {
        kube_calls: state.kube.calls(),
        mlflow_calls: state.mlflow.as_ref().map_or(0, |m| m.calls()),
        db_open,
        db_idle,
        db_max,
        sessions,
    };
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], encode(&scraped))
}
