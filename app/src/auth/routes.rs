//! The sign-in, callback and sign-out endpoints. They answer with plain
//! server-rendered pages when something is wrong, so they work even when
//! the rest of the portal cannot.

use super::oidc::PendingLogin;
use super::session::{PENDING_KEY, SessionUser, USER_KEY, now};
use crate::components::plain_page::plain_page;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Only local paths are followed after sign-in (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// NB: browsers drop tabs and newlines from a URL and read `\` as `/`, so
/// `/\t/evil.example` and `/\evil.example` both lead to `//evil.example`.
/// Any control character or whitespace is refused outright.
fn is_local_path(n: &str) -> bool {
    n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains(|c: char| c.is_control() || c.is_whitespace() || c == '\\')
        && !n.starts_with("/auth/")
}

/// `GET /auth/login?next=/path`: off to the identity provider.
pub async fn login(State(state): State<AppState>, session: Session, Query(q): Query<LoginQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    match state.oidc.begin(next).await {
        Ok((url, pending)) => match session.insert(PENDING_KEY, &pending).await {
            Ok(()) => Redirect::to(&url).into_response(),
            Err(e) => internal(e),
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot start sign-in");
            plain_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in unavailable",
                "The identity provider cannot be reached right now, so signing in is not possible. Please try again in a moment.",
                Some(("/auth/login", "Try again")),
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`: the provider sends the browser back here.
pub async fn callback(State(state): State<AppState>, session: Session, Query(q): Query<CallbackQuery>) -> Response {
    // Taken out whatever happens next: a state is good for one try only.
    let pending: Option<PendingLogin> = session.remove(PENDING_KEY).await.ok().flatten();
    if let Some(error) = q.error {
        tracing::info!(%error, "provider returned an error to the callback");
        return bad_sign_in("The identity provider did not sign you in. Please try again.");
    }
    let (Some(pending), Some(code), Some(returned)) = (pending, q.code, q.state) else {
        return bad_sign_in("This sign-in link is not valid, has expired, or was already used.");
    };
    if !constant_time_eq(returned.as_bytes(), pending.state.as_bytes()) {
        tracing::warn!("sign-in state mismatch");
        return bad_sign_in("This sign-in link does not belong to this browser session.");
    }
    let next = pending.next.clone();
    let tokens = match state.oidc.finish(pending, code).await {
        Ok(t) => t,
        Err(super::oidc::OidcError::Unreachable(e)) => {
            tracing::warn!(error = %e, "provider unreachable during code exchange");
            return plain_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in unavailable",
                "The identity provider cannot be reached right now. Please try again in a moment.",
                Some(("/auth/login", "Try again")),
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "sign-in refused");
            return bad_sign_in("This sign-in could not be completed: the code was refused or the token did not verify.");
        }
    };
    let user = match SessionUser::from_tokens(&state.config, tokens, now()) {
        Ok(user) => user,
        Err(why) => {
            tracing::info!(?why, "verified tokens cannot make a session");
            return bad_sign_in(why.sentence());
        }
    };
    // A new session id at every sign-in (no session fixation).
    if let Err(e) = session.cycle_id().await {
        return internal(e);
    }
    tracing::info!(user = %user.identity.username, groups = ?user.identity.groups, "signed in");
    let id = &user.identity;
    if let Err(e) = state.db.person_seen(&id.username, &id.display_name, &id.groups, now() * 1000).await {
        return internal(e);
    }
    match session.insert(USER_KEY, &user).await {
        Ok(()) => Redirect::to(&next).into_response(),
        Err(e) => internal(e),
    }
}

/// `POST /auth/logout`: ends the portal session, then the provider's.
pub async fn logout(State(state): State<AppState>, session: Session) -> Response {
    let user: Option<SessionUser> = session.get(USER_KEY).await.ok().flatten();
    if let Err(e) = session.flush().await {
        return internal(e);
    }
    let Some(user) = user else {
        return Redirect::to("/signed-out").into_response();
    };
    tracing::info!(user = %user.identity.username, "signed out");
    match state.oidc.logout_url(&user.id_token).await {
        Some(url) => Redirect::to(&url).into_response(),
        None => Redirect::to("/signed-out").into_response(),
    }
}

/// `GET /signed-out`: where the provider sends people after logout.
pub async fn signed_out() -> Response {
    plain_page(StatusCode::OK, "Signed out", "You have signed out of Atrium.", Some(("/", "Sign in again")))
}

fn bad_sign_in(message: &str) -> Response {
    plain_page(StatusCode::BAD_REQUEST, "Sign-in failed", message, Some(("/auth/login", "Start again")))
}

fn internal(e: impl std::fmt::Display) -> Response {
    let err = crate::error::AppError::internal(e);
    plain_page(StatusCode::INTERNAL_SERVER_ERROR, err.title(), &err.to_string(), None)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_always_a_local_path() {
        assert_eq!(safe_next(Some("/teams/team-a?x=1")), "/teams/team-a?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/auth/logout")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn next_with_characters_browsers_strip_goes_home() {
        // `next=/%09/evil.example`, as the query extractor decodes it.
        for n in ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/ /evil.example", "/\u{0B}/evil.example"] {
            assert_eq!(safe_next(Some(n)), "/", "{n:?}");
        }
        for n in ["/\u{3000}/evil.example", "/\u{7F}/x", "\t//evil.example", "/teams/a\\..\\evil", "/a b"] {
            assert_eq!(safe_next(Some(n)), "/", "{n:?}");
        }
        assert_eq!(safe_next(Some("/%09/evil.example")), "/%09/evil.example", "still encoded: a local path");
        assert_eq!(safe_next(Some("/notebooks?team=team-a")), "/notebooks?team=team-a");
    }

    #[test]
    fn state_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
