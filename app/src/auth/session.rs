//! The server-side session: what is stored, how long it lasts, and the
//! refresh of tokens before they expire.

use super::Identity;
use super::oidc::{Provider, SignInTokens};
use crate::config::{Config, UsernameClaim};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tower_sessions::Session;

pub(crate) const USER_KEY: &str = "atrium.user";
pub(crate) const PENDING_KEY: &str = "atrium.pending-login";

/// What a signed-in session holds. Tokens never leave the server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionUser {
    pub identity: Identity,
    pub id_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds at which the ID token expires.
    pub expires_at: i64,
    /// Unix seconds of sign-in, for the absolute timeout.
    pub signed_in_at: i64,
}

impl SessionUser {
    pub fn from_tokens(config: &Config, tokens: SignInTokens, signed_in_at: i64) -> Option<SessionUser> {
        let username = match config.oidc.username_claim {
            UsernameClaim::PreferredUsername => tokens.preferred_username.clone(),
            UsernameClaim::Email => tokens.email.clone(),
            UsernameClaim::Sub => Some(tokens.subject.clone()),
        }?;
        let memberships = config.identity.memberships(&tokens.groups);
        Some(SessionUser {
            identity: Identity {
                subject: tokens.subject,
                display_name: tokens.name.unwrap_or_else(|| username.clone()),
                username,
                email: tokens.email,
                groups: tokens.groups,
                memberships,
            },
            id_token: tokens.id_token,
            refresh_token: tokens.refresh_token,
            expires_at: tokens.expires_at,
            signed_in_at,
        })
    }
}

/// Proof that this request comes from a verified, live session. Only this
/// module makes one; Kubernetes clients are built from it.
#[derive(Clone, Debug)]
pub struct SignedIn {
    identity: Arc<Identity>,
    session_key: Arc<str>,
}

impl SignedIn {
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Identifies the session for per-session caches (not the cookie value).
    pub fn session_key(&self) -> &str {
        &self.session_key
    }

    #[cfg(feature = "test-support")]
    pub fn for_test(identity: Identity) -> SignedIn {
        let key = format!("test:{}", identity.username);
        SignedIn { identity: Arc::new(identity), session_key: key.into() }
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The signed-in person of this session, after enforcing the absolute
/// timeout and refreshing tokens that are about to expire. A session that
/// cannot be kept alive is emptied.
pub async fn resolve_session(session: &Session, config: &Config, provider: &Provider) -> Option<SignedIn> {
    let user: SessionUser = session.get(USER_KEY).await.ok().flatten()?;
    let now = now();
    if now - user.signed_in_at > i64::from(config.session.absolute_hours) * 3600 {
        tracing::info!(user = %user.identity.username, "session reached its absolute timeout");
        let _ = session.flush().await;
        return None;
    }
    let user = if now + config.oidc.refresh_margin_seconds as i64 >= user.expires_at {
        match refresh(config, provider, &user).await {
            Some(fresh) => {
                session.insert(USER_KEY, &fresh).await.ok()?;
                fresh
            }
            None => {
                let _ = session.flush().await;
                return None;
            }
        }
    } else {
        user
    };
    let key = session.id().map(|id| id.to_string()).unwrap_or_default();
    Some(SignedIn { identity: Arc::new(user.identity), session_key: short_key(&key).into() })
}

async fn refresh(config: &Config, provider: &Provider, user: &SessionUser) -> Option<SessionUser> {
    let token = user.refresh_token.as_deref()?;
    match provider.refresh(token).await {
        Ok(tokens) if tokens.subject == user.identity.subject => {
            tracing::debug!(user = %user.identity.username, "tokens refreshed");
            SessionUser::from_tokens(config, tokens, user.signed_in_at)
        }
        Ok(_) => {
            tracing::warn!(user = %user.identity.username, "refresh returned another subject");
            None
        }
        Err(e) => {
            tracing::info!(user = %user.identity.username, error = %e, "refresh refused; signing out");
            None
        }
    }
}

/// A non-secret key derived from the session id (for caches and logs).
fn short_key(id: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// For server functions: the app state and the signed-in person of this
/// request (set by the session middleware), or `Unauthorized`.
pub async fn current() -> crate::error::AppResult<(crate::state::AppState, SignedIn)> {
    use crate::error::AppError;
    let state = leptos::prelude::use_context::<crate::state::AppState>()
        .ok_or_else(|| AppError::internal("application state missing from context"))?;
    let axum::Extension(who) = leptos_axum::extract::<axum::Extension<SignedIn>>()
        .await
        .map_err(|_| AppError::Unauthorized)?;
    Ok((state, who))
}
