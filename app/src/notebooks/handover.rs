//! Opening a notebook on its own origin (`origin.rs`), the way JupyterHub's
//! subdomain mode does:
//!
//! 1. On the portal, `/notebook/{team}/{name}/…` checks that the person may
//!    run code in the notebook and redirects with a one-time ticket, good
//!    for a few seconds and bound to that notebook and portal session.
//! 2. The notebook's origin redeems it at [`HAND_OVER`] and sets a cookie
//!    for that host only. The portal's session cookie never goes there.
//! 3. Every later request on that origin is checked again (grant, portal
//!    session, access) and proxied to the notebook's pod with the
//!    notebook's own Jupyter token.

use super::model::url_prefix;
use super::origin::is_label;
use super::proxy::Target;
use crate::auth::{SignedIn, resolve_session};
use crate::components::plain_page::plain_page;
use crate::error::{AppError, AppResult};
use crate::platform::access::{AccessChange, Ask, next_touching};
use crate::platform::grants_store::{Grant, GrantKind};
use crate::platform::tokens::{digest, random_token};
use crate::state::AppState;
use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::str::FromStr;
use std::sync::Arc;
use tower_sessions::Session;

/// Where a notebook's origin redeems a ticket.
pub const HAND_OVER: &str = "/_atrium/hand-over";

/// The notebook origin's cookie: `__Host-` under https, so only that host
/// can ever set or read it.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-atrium_notebook" } else { "atrium_notebook" }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Whether this person may run code in the notebook: Kubernetes grants them
/// `create` on `notebooks/connect` (group `atrium.io`; the data scientist
/// persona has it), or they own it and may still read it. Reading a
/// notebook (as a platform admin may) is not enough.
pub async fn may_connect(state: &AppState, who: &SignedIn, team: &str, name: &str) -> AppResult<bool> {
    let client = state.kube.for_user(who)?;
    let connect = Ask { group: "atrium.io", resource: "notebooks/connect", verb: "create", namespace: Some(team), name: Some(name) };
    if state.access.may(&client, who.session_key(), connect).await? {
        return Ok(true);
    }
    let owns = state.notebooks.index.row(team, name).is_some_and(|r| r.owner == who.identity().username);
    if !owns {
        return Ok(false);
    }
    let (group, resource) = state.notebooks.kinds();
    let get = Ask { group, resource, verb: "get", namespace: Some(team), name: Some(name) };
    state.access.may(&client, who.session_key(), get).await
}

fn refusal(e: &AppError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    plain_page(status, e.title(), &e.to_string(), None)
}

fn missing(team: &str, name: &str) -> AppError {
    AppError::NotFound(format!("There is no notebook “{name}” in team “{team}”."))
}

/// `GET /notebook/{team}/{name}/…` on the portal: the hand-over to the
/// notebook's own origin, keeping the path asked for.
pub async fn open(State(state): State<AppState>, Extension(who): Extension<SignedIn>, session: Session, req: Request) -> Response {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let Some((team, name)) = notebook_of_path(&path) else {
        return refusal(&AppError::NotFound("There is no such notebook.".into()));
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return (StatusCode::METHOD_NOT_ALLOWED, "Open notebooks from the portal's notebook pages.").into_response();
    }
    // NB: the right to open comes first, so another team's notebooks cannot
    // be told apart from names that do not exist.
    match may_connect(&state, &who, &team, &name).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(%team, notebook = %name, "opening refused");
            return refusal(&AppError::Forbidden(format!("You may not open notebook “{name}” in team “{team}”: only its owner and the team's data scientists can run code in it.")));
        }
        Err(e) => return refusal(&e),
    }
    if state.notebooks.index.row(&team, &name).is_none() {
        return refusal(&missing(&team, &name));
    }
    let Some(id) = session.id() else {
        return refusal(&AppError::internal("no session id at hand-over"));
    };
    let ticket = random_token();
    let grant = Grant {
        team: team.clone(),
        name: name.clone(),
        portal_session: id.to_string(),
        expires_at_ms: now_ms() + state.notebooks.config.ticket_seconds as i64 * 1000,
    };
    if let Err(e) = state.db.grant_insert(&digest(&ticket), GrantKind::Ticket, &grant, now_ms()).await {
        return refusal(&AppError::internal(e));
    }
    let target = format!("{}{HAND_OVER}?ticket={ticket}&next={}", state.origins.origin(&team, &name), encode(&path));
    Redirect::to(&target).into_response()
}

/// The notebook a path under `/notebook/{team}/{name}` names, if both are DNS labels.
fn notebook_of_path(path: &str) -> Option<(String, String)> {
    let mut parts = path.split(['?', '#']).next()?.trim_start_matches('/').split('/');
    let (root, team, name) = (parts.next()?, parts.next()?, parts.next()?);
    (root == "notebook" && is_label(team) && is_label(name)).then(|| (team.to_string(), name.to_string()))
}

/// Sends requests for a notebook's origin to [`serve_origin`]; everything
/// else goes on to the portal.
pub async fn by_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let candidates = state.origins.candidates(host);
    if candidates.is_empty() {
        return next.run(req).await;
    }
    serve_origin(&state, candidates, req).await
}

async fn serve_origin(state: &AppState, candidates: Vec<(String, String)>, req: Request) -> Response {
    let Some((team, name)) = candidates.into_iter().find(|(t, n)| state.notebooks.index.row(t, n).is_some()) else {
        return refusal(&AppError::NotFound("There is no such notebook.".into()));
    };
    if req.uri().path() == HAND_OVER {
        let query = req.uri().query().unwrap_or_default().to_string();
        return redeem(state, &team, &name, &query).await;
    }
    let prefix = url_prefix(&team, &name);
    let path = req.uri().path();
    if path != prefix && !path.starts_with(&format!("{prefix}/")) {
        return refusal(&missing(&team, &name));
    }
    let who = match visitor(state, &team, &name, req.headers()).await {
        Ok(Some(who)) => who,
        Ok(None) => return back_to_portal(state, &req),
        Err(e) => return refusal(&e),
    };
    tracing::Span::current().record("user", who.identity().username.as_str());
    // A WebSocket follows RBAC changes from before its check on.
    let changes = req.headers().contains_key(header::UPGRADE).then(|| state.access.subscribe());
    match may_connect(state, &who, &team, &name).await {
        Ok(true) => {}
        Ok(false) => return refusal(&AppError::Forbidden(format!("You may no longer open notebook “{name}” in team “{team}”."))),
        Err(e) => return refusal(&e),
    }
    let ended: futures::future::BoxFuture<'static, ()> = match changes {
        Some(changes) => {
            let socket = Socket { state: state.clone(), team: team.clone(), name: name.clone(), headers: req.headers().clone() };
            Box::pin(socket.access_ended(changes))
        }
        None => Box::pin(std::future::pending()),
    };
    // A stopping replica closes its sockets; the browser reconnects elsewhere.
    let stopping = state.lifecycle.stopping();
    let ended: futures::future::BoxFuture<'static, ()> = Box::pin(async move {
        tokio::select! {
            () = ended => {}
            () = stopping => tracing::info!("notebook websocket closed: this replica is stopping"),
        }
    });
    proxy(state, &team, &name, req, ended).await
}

/// An open WebSocket to a notebook, and the request that opened it.
struct Socket {
    state: AppState,
    team: String,
    name: String,
    headers: HeaderMap,
}

impl Socket {
    /// Resolves once the person may no longer run code in the notebook:
    /// after every RBAC change that touches its team, the grant, the portal
    /// session behind it and the access decision are checked again. NB: when
    /// that cannot be told, the socket is closed too; the browser reconnects
    /// and is checked afresh.
    async fn access_ended(self, mut changes: tokio::sync::broadcast::Receiver<AccessChange>) {
        let Socket { state, team, name, headers } = &self;
        while next_touching(&mut changes, |ns| ns == team).await {
            let allowed = match visitor(state, team, name, headers).await {
                Ok(Some(who)) => may_connect(state, &who, team, name).await,
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            };
            match allowed {
                Ok(true) => continue,
                Ok(false) => tracing::info!(%team, notebook = %name, "websocket closed: access ended"),
                Err(e) => tracing::warn!(%team, notebook = %name, error = %e, "websocket closed: access unknown"),
            }
            return;
        }
        std::future::pending().await
    }
}

/// Checks what a WebSocket's page came from, then forwards with the token; a
/// WebSocket is closed when `ended` resolves.
async fn proxy(state: &AppState, team: &str, name: &str, req: Request, ended: futures::future::BoxFuture<'static, ()>) -> Response {
    let origins = &state.origins;
    let own = origins.origin(team, name);
    let websocket = req.headers().get(header::UPGRADE).is_some();
    if websocket && req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) != Some(own.as_str()) {
        tracing::warn!(%team, notebook = %name, "websocket from another origin refused");
        return (StatusCode::FORBIDDEN, "Cross-origin WebSocket refused.").into_response();
    }
    if req.uri().path() == url_prefix(team, name) {
        return Redirect::permanent(&format!("{}/", req.uri().path())).into_response();
    }
    let Some(upstream) = state.notebooks.upstream(team, name) else {
        return (StatusCode::BAD_GATEWAY, "The notebook server is not answering. It may still be starting.").into_response();
    };
    let token = state.notebooks.jupyter_token(team, name);
    let scheme = if origins.secure() { "https" } else { "http" };
    state.notebooks.proxy.forward_until(&Target { upstream: &upstream, token: Some(&token), scheme }, req, ended).await
}

/// `GET {notebook origin}/_atrium/hand-over?ticket=…&next=…`: takes the
/// ticket (once), sets this host's cookie and goes on to the notebook.
async fn redeem(state: &AppState, team: &str, name: &str, query: &str) -> Response {
    let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()).unwrap_or_default();
    let expired = || {
        plain_page(
            StatusCode::BAD_REQUEST,
            "Link expired",
            "This link to a notebook has expired or was already used. Open the notebook again from the portal.",
            Some((&format!("{}/notebooks/{team}/{name}", state.config.public_origin()), "Back to the notebook")),
        )
    };
    let grant = match state.db.ticket_redeem(&digest(get("ticket")), now_ms()).await {
        Ok(Some(g)) if g.team == team && g.name == name => g,
        Ok(_) => return expired(),
        Err(e) => return refusal(&AppError::internal(e)),
    };
    let token = random_token();
    let hours = i64::from(state.config.session.absolute_hours);
    let session = Grant { expires_at_ms: now_ms() + hours * 3_600_000, ..grant };
    if let Err(e) = state.db.grant_insert(&digest(&token), GrantKind::Session, &session, now_ms()).await {
        return refusal(&AppError::internal(e));
    }
    let prefix = url_prefix(team, name);
    let next = get("next");
    let next = if next.starts_with(&format!("{prefix}/")) && !next.contains(['\\', '\r', '\n']) { next.to_string() } else { format!("{prefix}/lab") };
    let secure = state.origins.secure();
    let cookie = format!("{}={token}; Path=/; HttpOnly; SameSite=Lax{}", cookie_name(secure), if secure { "; Secure" } else { "" });
    let mut res = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, value);
    }
    res
}

/// The person behind this origin's cookie, while both the grant and the
/// portal session it came from are alive.
async fn visitor(state: &AppState, team: &str, name: &str, headers: &HeaderMap) -> AppResult<Option<SignedIn>> {
    let secure = state.origins.secure();
    let Some(token) = cookie(headers, cookie_name(secure)) else { return Ok(None) };
    let grant = state.db.grant_session(&digest(&token), now_ms()).await.map_err(AppError::internal)?;
    let Some(grant) = grant.filter(|g| g.team == team && g.name == name) else { return Ok(None) };
    let Ok(id) = tower_sessions::session::Id::from_str(&grant.portal_session) else { return Ok(None) };
    let idle = time::Duration::minutes(i64::from(state.config.session.idle_minutes));
    let session = Session::new(Some(id), Arc::new(state.sessions.clone()), Some(tower_sessions::Expiry::OnInactivity(idle)));
    let who = resolve_session(&session, &state.config, &state.oidc).await;
    if session.is_modified() {
        session.save().await.map_err(AppError::internal)?;
    }
    Ok(who)
}

/// Without a live grant: navigations go back to the portal, which hands
/// over again (or asks to sign in first); anything else is refused.
fn back_to_portal(state: &AppState, req: &Request) -> Response {
    let navigation = req.method() == Method::GET && req.headers().get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if navigation {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        return Redirect::to(&format!("{}{path}", state.config.public_origin())).into_response();
    }
    (StatusCode::UNAUTHORIZED, "Open this notebook from the portal.").into_response()
}

/// One cookie's value from the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_a_notebook_only_with_dns_labels() {
        assert_eq!(notebook_of_path("/notebook/team-a/churn/lab?x=1"), Some(("team-a".into(), "churn".into())));
        assert_eq!(notebook_of_path("/notebook/team-a/churn"), Some(("team-a".into(), "churn".into())));
        assert_eq!(notebook_of_path("/notebook/team-a/x@169.254.169.254%23/api"), None);
        assert_eq!(notebook_of_path("/notebooks/team-a/churn"), None);
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; atrium_notebook=tok; x_atrium_notebook=no"));
        assert_eq!(cookie(&h, "atrium_notebook").as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "__Host-atrium_notebook"), None);
        assert_eq!(cookie_name(true), "__Host-atrium_notebook");
    }
}
