//! Request gates: same-origin checks for anything that changes state, and
//! the session gate that turns a cookie into a verified [`SignedIn`].

use app::auth::resolve_session;
use app::error::AppError;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// Paths served without a session.
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/signed-out" | "/favicon.ico")
        || path.starts_with("/auth/")
        || path.starts_with("/pkg/")
}

/// Refuses state-changing requests that do not come from our own pages
/// (CSRF): the browser's `Origin` must be ours, or, where a browser sends
/// no Origin, `Sec-Fetch-Site` must say same-origin.
pub async fn same_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let ours = state.config.public_origin();
    let ok = match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().is_ok_and(|o| o == ours),
        None => headers.get("sec-fetch-site").is_some_and(|v| v == "same-origin"),
    };
    if ok {
        next.run(req).await
    } else {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), "cross-origin request refused");
        (StatusCode::FORBIDDEN, "Cross-origin request refused.").into_response()
    }
}

/// Lets public paths through; everything else needs a live session. Pages
/// redirect to sign-in (and back afterwards); server functions answer 401.
pub async fn require_session(State(state): State<AppState>, session: Session, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if is_public(&path) {
        return next.run(req).await;
    }
    // Identity headers from the browser are never trusted or forwarded.
    for h in ["impersonate-user", "impersonate-group", "impersonate-uid", "authorization"] {
        req.headers_mut().remove(h);
    }
    match resolve_session(&session, &state.config, &state.oidc).await {
        Some(who) => {
            tracing::Span::current().record("user", who.identity().username.as_str());
            req.extensions_mut().insert(who);
            let mut res = next.run(req).await;
            // Private pages are never kept by the browser (back button after sign-out).
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        None if path.starts_with("/api/") => {
            let body = serde_json::to_string(&AppError::Unauthorized).unwrap_or_default();
            (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        None => {
            let next = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let target = format!("/auth/login?next={}", encode(next));
            Redirect::to(&target).into_response()
        }
    }
}

/// Headers every response carries.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    res
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths() {
        assert!(is_public("/auth/callback"));
        assert!(is_public("/pkg/atrium.css"));
        assert!(!is_public("/"));
        assert!(!is_public("/api/shell"));
        assert!(!is_public("/teams/team-a"));
    }

    #[test]
    fn next_is_percent_encoded() {
        assert_eq!(encode("/teams/a?x=1&y=2"), "/teams/a%3Fx%3D1%26y%3D2");
    }
}
