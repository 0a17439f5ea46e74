//! Builds the application: services from configuration, then the router.

use crate::{health, middleware};
use app::auth::oidc::Provider;
use app::config::Config;
use app::notebooks::ops::NotebookService;
use app::platform::{access::AccessCache, db::Db, kube::KubeGateway};
use app::state::{AppState, Services};
use app::{App, shell};
use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, any, on};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

const REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sqlx_error::Error),
    #[error("kubernetes: {0}")]
    Kubernetes(#[from] app::platform::kube::GatewayError),
    #[error("identity provider: {0}")]
    Oidc(#[from] app::auth::oidc::OidcError),
    #[error("notebooks: {0}")]
    Notebooks(String),
}

mod sqlx_error {
    /// The database error, kept opaque to this crate's dependencies.
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    pub struct Error(pub String);
}

/// A route of the portal's own, beside the Leptos pages and server functions.
pub struct PortalRoute {
    pub path: &'static str,
    /// The method it answers; `None` for any.
    pub method: Option<Method>,
    handler: MethodRouter<AppState>,
}

impl PortalRoute {
    fn new<H: Handler<T, AppState>, T: 'static>(path: &'static str, method: Option<Method>, handler: H) -> PortalRoute {
        let handler = match &method {
            Some(m) => on(MethodFilter::try_from(m.clone()).expect("a routable method"), handler),
            None => any(handler),
        };
        PortalRoute { path, method, handler }
    }
}

/// The portal's own routes. NB: listed apart from [`build`] so that tests
/// can enumerate every route the router serves (`tests/matrix.rs`).
pub fn portal_routes() -> Vec<PortalRoute> {
    use PortalRoute as R;
    vec![
        R::new("/healthz", Some(Method::GET), health::healthz),
        R::new("/readyz", Some(Method::GET), health::readyz),
        R::new("/metrics", Some(Method::GET), health::metrics),
        R::new("/auth/login", Some(Method::GET), app::auth::routes::login),
        R::new("/auth/callback", Some(Method::GET), app::auth::routes::callback),
        R::new("/auth/logout", Some(Method::POST), app::auth::routes::logout),
        R::new("/signed-out", Some(Method::GET), app::auth::routes::signed_out),
        R::new("/export/audit.csv", Some(Method::GET), app::audit::server::export_csv),
        R::new("/api/notebooks/stream", Some(Method::GET), app::notebooks::live::stream),
        R::new("/notebook/{team}/{name}", None, app::notebooks::handover::open),
        R::new("/notebook/{team}/{name}/{*rest}", None, app::notebooks::handover::open),
        R::new("/experiments/{team}/{id}/runs/{run}/artifact", Some(Method::GET), app::experiments::artifacts::download),
        // MLflow for workloads (notebooks), with their ServiceAccount's token.
        R::new("/mlflow/{team}/{*rest}", None, app::experiments::gateway::forward),
        R::new("/mlflow/{team}/", Some(Method::GET), app::experiments::gateway::open_in_portal),
    ]
}

/// Where this build's browser files are: `pkg/<build id>`, written by
/// `scripts/build-site.sh`. Every build has its own folder, so a browser still
/// running an older core never loads chunks of a newer build.
fn site_pkg_dir(site_root: &std::path::Path) -> String {
    match std::fs::read_to_string(site_root.join("build-id")) {
        Ok(id) if !id.trim().is_empty() && id.trim().chars().all(|c| c.is_ascii_alphanumeric()) => {
            format!("pkg/{}", id.trim())
        }
        _ => {
            tracing::warn!(site_root = %site_root.display(), "no site build found; pages will not become interactive (run scripts/build-site.sh)");
            "pkg".into()
        }
    }
}

/// A build's files (`/pkg/<build id>/…`) never change under their folder, so
/// browsers keep them; anything else under /pkg is checked again on each use.
async fn cache_build_files(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    // Nested under /pkg: the path here starts after it.
    let per_build = req.uri().path().trim_start_matches('/').contains('/');
    let mut res = next.run(req).await;
    if res.status().is_success() {
        let value = if per_build { "public, max-age=31536000, immutable" } else { "no-cache" };
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}

/// Connects everything the portal needs and returns its router.
pub async fn build(config: Config) -> Result<(Router, AppState), StartError> {
    let db = Db::connect(&config.database_url).await.map_err(|e| sqlx_error::Error(e.to_string()))?;
    db.migrate().await.map_err(|e| sqlx_error::Error(e.to_string()))?;
    let sessions = db.session_store().await.map_err(|e| sqlx_error::Error(e.to_string()))?;
    tokio::spawn(sessions.clone().continuously_delete_expired(tokio::time::Duration::from_secs(600)));
    let kube = KubeGateway::new(&config).await?;
    let oidc = Provider::new(&config)?;
    let leptos_options = LeptosOptions::builder()
        .output_name("atrium")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir(site_pkg_dir(&config.site_root))
        .site_addr(config.listen)
        .build();
    let access = AccessCache::with_watched_ttl(
        Duration::from_secs(config.access_cache_seconds),
        Duration::from_secs(config.access_cache_watched_seconds),
    );
    let portal = kube.portal_client().map_err(|e| StartError::Notebooks(e.to_string()))?;
    access.follow_rbac(portal.clone());
    let token_key = db
        .portal_key("jupyter-tokens", &app::platform::tokens::random_token())
        .await
        .map_err(|e| sqlx_error::Error(e.to_string()))?;
    let mut notebooks = NotebookService::start(config.notebooks.clone(), portal.clone(), token_key).await;
    notebooks.tracking_base = config.tracking_base();
    let origins = config.notebook_origins().map_err(StartError::Notebooks)?;
    let mlflow = app::experiments::mlflow::Mlflow::new(&config.mlflow);
    let logs = app::pipelines::archive::LogArchive::new(&config.object_store).map_err(StartError::Notebooks)?;
    if let Some(archive) = &logs {
        let lease = Duration::from_secs(config.notebooks.culler_lease_seconds.max(3));
        app::pipelines::archive::spawn(archive.clone(), portal.clone(), &config.notebooks.portal_namespace, &config.pipelines.log_archive_lease, lease);
    }
    let runs = app::pipelines::index::RunIndex::default();
    runs.follow(portal.clone());
    let services = Services {
        config,
        kube,
        oidc,
        db,
        sessions: sessions.clone(),
        origins,
        access,
        notebooks,
        mlflow,
        logs,
        runs,
        lifecycle: Default::default(),
    };
    let state = AppState { leptos_options, services: Arc::new(services) };
    app::notebooks::live::spawn_culler(state.clone(), portal);
    // Warm discovery in the background; sign-in retries it if this fails.
    let warm = state.oidc.clone();
    tokio::spawn(async move {
        let _ = warm.check().await;
    });

    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(state.config.session_cookie_name())
        .with_secure(state.config.secure_cookies())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(i64::from(state.config.session.idle_minutes))));

    let routes = generate_route_list(App);
    let pkg = ServeDir::new(state.config.site_root.join("pkg")).precompressed_gzip();
    let pkg = tower::ServiceBuilder::new().layer(axum::middleware::from_fn(cache_build_files)).service(pkg);
    let router = portal_routes().into_iter().fold(Router::new(), |router, r| router.route(r.path, r.handler));
    let router = router
        .nest_service("/pkg", pkg)
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .route_layer(axum::middleware::from_fn(middleware::measure))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(middleware::server_function_status))
        .layer(axum::middleware::from_fn_with_state(crate::rate_limit::ServerFunctionLimit::new(&state.config), crate::rate_limit::server_functions))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::require_session))
        .layer(session_layer)
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::same_origin))
        .layer(axum::middleware::from_fn_with_state(crate::rate_limit::SignInLimit::new(&state.config), crate::rate_limit::sign_ins))
        .layer(axum::middleware::from_fn_with_state(middleware::BodyLimit::new(&state.config), middleware::body_limit))
        .layer(axum::middleware::from_fn_with_state(middleware::SecurityHeaders::new(&state.config), middleware::security_headers))
        // Notebooks' own origins: none of the portal's layers above apply there.
        .layer(axum::middleware::from_fn_with_state(state.clone(), app::notebooks::handover::by_host))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
                    // Traces name a request by its route (no team names in span names).
                    let route = req.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |m| m.as_str());
                    let span = tracing::info_span!("request", request_id, method = %req.method(), path = %req.uri().path(),
                        user = tracing::field::Empty, team = tracing::field::Empty,
                        otel.name = %format!("{} {route}", req.method()), otel.kind = "server", http.route = route,
                        http.response.status_code = tracing::field::Empty);
                    if let Some(caller) = crate::telemetry::caller_context(req.headers()) {
                        use tracing_opentelemetry::OpenTelemetrySpanExt;
                        let _ = span.set_parent(caller);
                    }
                    span
                })
                .on_response(|res: &axum::http::Response<_>, took: Duration, span: &tracing::Span| {
                    use tower_http::trace::OnResponse;
                    span.record("http.response.status_code", i64::from(res.status().as_u16()));
                    tower_http::trace::DefaultOnResponse::new().on_response(res, took, span);
                }),
        )
        // Every request has an id (the load balancer's, or a fresh one), in its
        // log lines and in the answer, so a person's report can be found.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state.clone());
    Ok((router, state))
}
