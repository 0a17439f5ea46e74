//! Request gates: same-origin checks for anything that changes state, the
//! session gate that turns a cookie into a verified [`SignedIn`], the body
//! size limit, and the security headers every response carries.

use app::auth::resolve_session;
use app::config::Config;
use app::error::AppError;
use app::state::AppState;
use axum::body::Body;
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
        || is_workload_gateway(path)
}

/// MLflow's gateway for workloads: they send a ServiceAccount token, checked
/// by the gateway itself; a session cookie is never looked at there, so
/// neither sign-in nor the CSRF check applies.
fn is_workload_gateway(path: &str) -> bool {
    path.starts_with("/mlflow/")
}

/// Refuses state-changing requests that do not come from our own pages
/// (CSRF): the browser's `Origin` must be ours, or, where a browser sends
/// no Origin, `Sec-Fetch-Site` must say same-origin.
pub async fn same_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || is_workload_gateway(req.uri().path()) {
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

/// The security headers, worked out once from the configuration.
#[derive(Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
    /// Only when people reach the portal over https.
    hsts: Option<HeaderValue>,
}

impl SecurityHeaders {
    pub fn new(config: &Config) -> SecurityHeaders {
        let csp = HeaderValue::from_str(&content_security_policy(config))
            .unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"));
        let hsts = config.secure_cookies().then(|| HeaderValue::from_static("max-age=31536000"));
        SecurityHeaders { csp, hsts }
    }
}

/// The portal's Content-Security-Policy. Sign-out posts a form whose answer
/// redirects to the identity provider's logout page, hence its origin in
/// `form-action`. NB: no `script-src` or `default-src`: Leptos hydrates with
/// inline scripts, which such a policy would block unless it carried nonces.
fn content_security_policy(config: &Config) -> String {
    let provider = config.identity_provider_origin();
    format!("frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self' {provider}").trim_end().to_string()
}

/// Headers every portal response carries.
pub async fn security_headers(State(headers): State<SecurityHeaders>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // A handler serving people's own files sets a stricter one (sandbox).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, headers.csp);
    }
    if let Some(hsts) = headers.hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    res
}

/// The largest request body the portal takes, in bytes.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    pub fn new(config: &Config) -> BodyLimit {
        BodyLimit(config.max_body_bytes)
    }
}

/// Answers 413 to a body over the limit: at once when `Content-Length`
/// says so, else when reading it passes the limit.
pub async fn body_limit(State(BodyLimit(max)): State<BodyLimit>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // Workloads' artifact uploads have a limit of their own (the gateway's).
    if is_workload_gateway(path) {
        return next.run(req).await;
    }
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        tracing::warn!(path, bytes = declared, "request body too large");
        return too_large(path);
    }
    next.run(req.map(|body| Body::new(http_body_util::Limited::new(body, max)))).await
}

/// Server functions get the typed error they decode; pages a sentence.
fn too_large(path: &str) -> Response {
    let status = StatusCode::PAYLOAD_TOO_LARGE;
    let message = "This request is too large for the portal.";
    if path.starts_with("/api/") {
        let body = serde_json::to_string(&AppError::Invalid(message.into())).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    } else {
        (status, message).into_response()
    }
}

/// Times every request that reached a route (a page, a server function, an
/// endpoint), labelled by the route's pattern, never by the raw path.
pub async fn measure(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    app::platform::metrics::metrics().request(method.as_str(), route, res.status().as_u16(), started.elapsed());
    res
}

/// Gives a server function's typed error its own status. NB: server_fn
/// answers every error with 500, which would make a refusal (403), a missing
/// object (404) or a refused input (422) look like a fault of ours; the
/// browser decodes the error from any 4xx or 5xx alike.
pub async fn server_function_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR || !res.headers().contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
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

    use axum::Router;
    use axum::body::Bytes;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    fn limited(max: usize) -> Router {
        let echo = post(|body: Bytes| async move { body.len().to_string() });
        Router::new()
            .route("/api/echo", echo)
            .layer(axum::middleware::from_fn_with_state(BodyLimit(max), body_limit))
    }

    async fn post_to(router: Router, path: &str, body: Body, length: Option<usize>) -> StatusCode {
        let mut req = Request::post(path);
        if let Some(n) = length {
            req = req.header(header::CONTENT_LENGTH, n);
        }
        router.oneshot(req.body(body).unwrap()).await.unwrap().status()
    }

    #[tokio::test]
    async fn bodies_over_the_limit_get_413() {
        let big = || Body::from(vec![b'x'; 17]);
        assert_eq!(post_to(limited(16), "/api/echo", Body::from(vec![b'x'; 16]), Some(16)).await, StatusCode::OK);
        assert_eq!(post_to(limited(16), "/api/echo", big(), Some(17)).await, StatusCode::PAYLOAD_TOO_LARGE);
        let chunks = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 10])), Ok(Bytes::from(vec![b'x'; 10]))]);
        let undeclared = Body::from_stream(chunks);
        assert_eq!(post_to(limited(16), "/api/echo", undeclared, None).await, StatusCode::PAYLOAD_TOO_LARGE);
    }

    async fn headers_of(config: &Config) -> axum::http::HeaderMap {
        let router = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(SecurityHeaders::new(config), security_headers));
        let res = router.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
        res.headers().clone()
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let mut config = Config::default();
        let h = headers_of(&config).await;
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'", "form-action 'self' https://localhost:18443"] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("script-src") && !csp.contains("default-src"), "hydration needs inline scripts: {csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "same-origin");
        assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY), "no HSTS over http");
        config.public_url = "https://atrium.example.org".into();
        let h = headers_of(&config).await;
        assert_eq!(h[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
    }

    #[tokio::test]
    async fn server_function_errors_get_their_own_status() {
        let failing = |error: AppError| {
            post(move || async move {
                let body = serde_json::to_string(&error).unwrap();
                (StatusCode::INTERNAL_SERVER_ERROR, [(leptos::server_fn::error::SERVER_FN_ERROR_HEADER, "/api/x")], body)
            })
        };
        let router = Router::new()
            .route("/api/refused", failing(AppError::Forbidden("no".into())))
            .route("/api/broken", failing(AppError::Internal("ref".into())))
            .route("/api/plain", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "{\"Forbidden\":\"no\"}") }))
            .layer(axum::middleware::from_fn(server_function_status));
        for (path, status) in [("/api/refused", 403), ("/api/broken", 500), ("/api/plain", 500)] {
            let res = router.clone().oneshot(Request::post(path).body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(res.status(), status, "{path}");
        }
        let res = router.oneshot(Request::post("/api/refused").body(Body::empty()).unwrap()).await.unwrap();
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"Forbidden":"no"}"#, "the typed error is kept");
    }
}
