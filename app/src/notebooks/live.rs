//! The notebook endpoints that are not pages: the live status stream
//! (Server-Sent Events) and the idle culler that runs in the background.
//! Opening a notebook is `handover.rs`.

use super::api::visible_teams;
use super::index::NotebookIndex;
use super::model::{NotebookEvent, Phase};
use crate::auth::SignedIn;
use crate::error::AppError;
use crate::platform::access::{AccessChange, next_touching};
use crate::state::AppState;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    team: Option<String>,
}

/// A stream lives at most this long; the browser then reconnects and is
/// asked again. NB: RBAC changes end a stream at once (`lost_a_team`); this
/// bounds what the RBAC watches do not see: a session that ended, groups that
/// change with a refreshed token.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

fn refusal(e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, e.to_string()).into_response()
}

/// `GET /api/notebooks/stream?team=…`: every change to a row of the teams
/// the person may see, starting with all current rows. It ends when they may
/// no longer see one of those teams.
pub async fn stream(State(state): State<AppState>, Extension(who): Extension<SignedIn>, Query(q): Query<StreamQuery>) -> Response {
    // Before asking, so a change made while the answer travels is not missed.
    let changes = state.access.subscribe();
    let teams = match visible_teams(&state, &who, q.team.as_deref()).await {
        Ok(t) => t.into_iter().map(|(name, _, _)| name).collect::<Vec<_>>(),
        Err(e) => return refusal(e),
    };
    let index = state.notebooks.index.clone();
    let rx = index.subscribe();
    let allowed: HashSet<String> = teams.iter().cloned().collect();
    let lost = lost_a_team(state.clone(), who, q.team, allowed.clone(), changes);
    let first = snapshot(&index, &teams);
    let updates = futures::stream::unfold((rx, index, teams, allowed), |(mut rx, index, teams, allowed)| async move {
        loop {
            let event = match rx.recv().await {
                Ok(NotebookEvent::Changed { row }) if allowed.contains(&row.team) => NotebookEvent::Changed { row },
                Ok(NotebookEvent::Removed { team, name }) if allowed.contains(&team) => NotebookEvent::Removed { team, name },
                Ok(_) => continue,
                // Fell behind: send everything again.
                Err(RecvError::Lagged(_)) => snapshot(&index, &teams),
                Err(RecvError::Closed) => return None,
            };
            return Some((event, (rx, index, teams, allowed)));
        }
    });
    // Counted as open for as long as the stream lives.
    let open = crate::platform::metrics::OpenStream::new();
    let events = futures::stream::once(async move { first })
        .chain(updates)
        .map(move |e| {
            let _open = &open;
            SseEvent::default().json_data(&e)
        })
        .take_until(lost)
        .take_until(tokio::time::sleep(STREAM_LIFETIME))
        // The replica is stopping: end cleanly so the browser reconnects elsewhere.
        .take_until(state.lifecycle.stopping());
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// Resolves once the person may no longer see one of `teams`: asked again
/// after every RBAC change that touches them.
async fn lost_a_team(
    state: AppState,
    who: SignedIn,
    only: Option<String>,
    teams: HashSet<String>,
    mut changes: broadcast::Receiver<AccessChange>,
) {
    while next_touching(&mut changes, |ns| teams.contains(ns)).await {
        match visible_teams(&state, &who, only.as_deref()).await {
            Ok(now) if teams.iter().all(|t| now.iter().any(|(n, _, _)| n == t)) => continue,
            Ok(_) => tracing::info!(user = %who.identity().username, "live stream ended: a team is no longer visible"),
            // Refused, or cannot tell: the browser reconnects and is asked afresh.
            Err(e) => tracing::info!(user = %who.identity().username, error = %e, "live stream ended: access asked again"),
        }
        return;
    }
    std::future::pending().await
}

fn snapshot(index: &NotebookIndex, teams: &[String]) -> NotebookEvent {
    NotebookEvent::Snapshot { rows: index.rows(teams) }
}

/// Who the audit trail names for the culler's stops.
pub const CULLER: &str = "atrium (idle stop)";

/// Every `interval`, asks each running notebook of a team with an idle
/// limit when it was last used (Jupyter's `/api/status`), and stops those
/// idle for longer than the limit, with the portal's identity. Only the
/// replica holding the Lease `notebooks.culler_lease` does (`platform::lease`).
pub fn spawn_culler(state: AppState, portal: kube::Client) {
    let interval = Duration::from_secs(state.notebooks.config.cull_interval_seconds.max(1));
    let lease = Duration::from_secs(state.notebooks.config.culler_lease_seconds.max(3));
    let leader = crate::platform::lease::follow(portal.clone(), &state.notebooks.config.portal_namespace, &state.notebooks.config.culler_lease, lease);
    let _ = state.notebooks.culler.set(leader.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            // One replica culls; the others would only repeat its stops.
            if !leader.is_held() {
                continue;
            }
            for (row, limit) in state.notebooks.index.cullable() {
                let Some(upstream) = state.notebooks.upstream(&row.team, &row.name) else { continue };
                let url = format!("{}{}/api/status", upstream.trim_end_matches('/'), super::manifest::url_prefix(&row.team, &row.name));
                let token = state.notebooks.jupyter_token(&row.team, &row.name);
                let Some(last) = last_activity(&state.notebooks.proxy, &url, &token).await else { continue };
                state.notebooks.index.set_activity(&row.team, &row.name, (last.unix_timestamp_nanos() / 1_000_000) as i64);
                let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
                let last_ms = (last.unix_timestamp_nanos() / 1_000_000) as i64;
                // A server that just (re)started is not idle, whatever it last reported.
                let idle = (now_ms - last_ms.max(row.ready_since_ms.unwrap_or(0))) / 1000;
                if idle < limit as i64 || row.phase != Phase::Running {
                    continue;
                }
                let object = format!("notebook {} (idle {idle} s, limit {limit} s)", row.name);
                let stop = crate::audit::server::audited(
                    &state.db,
                    crate::audit::server::Action { actor: CULLER, team: Some(&row.team), action: "notebook.stop", object: &object },
                    super::ops::set_running(&portal, state.notebooks.backend(), &row.team, &row.name, false),
                )
                .await;
                match stop {
                    Ok(()) => tracing::info!(team = %row.team, notebook = %row.name, idle, "stopped idle notebook"),
                    Err(e) => tracing::warn!(team = %row.team, notebook = %row.name, error = %e, "could not stop idle notebook"),
                }
            }
        }
    });
}

/// When Jupyter's `/api/status` says the server was last used.
async fn last_activity(proxy: &super::proxy::Proxy, url: &str, token: &str) -> Option<time::OffsetDateTime> {
    let body = proxy.get(url, Some(token), 64 * 1024, Duration::from_secs(5)).await?;
    let status: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let at = status.get("last_activity")?.as_str()?;
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
}
