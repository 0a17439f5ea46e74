//! The server-side session: what is stored, how long it lasts, and the
//! refresh of tokens before they expire.

use super::Identity;
use super::oidc::{OidcError, Provider, SignInTokens};
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
    /// For token passthrough (sessions from before it have none).
    #[serde(default)]
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds at which the tokens expire (the first of the ID and the
    /// access token): without the provider, the session acts for the person
    /// until then and no longer (decision 0011).
    pub expires_at: i64,
    /// Unix seconds of sign-in, for the absolute timeout.
    pub signed_in_at: i64,
}

/// Why verified tokens cannot make a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// The token lacks the claim configured as the username.
    NoUsername,
    /// The username is the email, and the provider has not verified it.
    EmailNotVerified,
}

impl Unusable {
    /// What the sign-in failure page tells the person.
    pub fn sentence(self) -> &'static str {
        match self {
            Unusable::NoUsername => "Your account has no username the portal can use. Ask your platform team.",
            Unusable::EmailNotVerified => {
                "Your email address is not verified with the identity provider, and the portal uses it as your \
                 username. Verify your email address there, then sign in again."
            }
        }
    }
}

impl SessionUser {
    pub fn from_tokens(config: &Config, tokens: SignInTokens, signed_in_at: i64) -> Result<SessionUser, Unusable> {
        let username = match config.oidc.username_claim {
            UsernameClaim::PreferredUsername => tokens.preferred_username.clone(),
            UsernameClaim::Email => tokens.email.clone(),
            UsernameClaim::Sub => Some(tokens.subject.clone()),
        }
        .ok_or(Unusable::NoUsername)?;
        // NB: an unverified email is whatever the person typed into their
        // profile; as a username it would let them choose someone else's.
        if config.oidc.username_claim == UsernameClaim::Email && tokens.email_verified != Some(true) {
            return Err(Unusable::EmailNotVerified);
        }
        let memberships = config.identity.memberships(&tokens.groups);
        Ok(SessionUser {
            identity: Identity {
                subject: tokens.subject,
                display_name: tokens.name.unwrap_or_else(|| username.clone()),
                username,
                email: tokens.email,
                groups: tokens.groups,
                memberships,
            },
            id_token: tokens.id_token,
            access_token: tokens.access_token,
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
    /// The person's access token, for token passthrough (redacted in Debug).
    access_token: Option<crate::config::Secret>,
}

impl SignedIn {
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Identifies the session for per-session caches (not the cookie value).
    pub fn session_key(&self) -> &str {
        &self.session_key
    }

    /// The person's own access token, when the provider gave one.
    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_ref().map(|t| t.expose())
    }

    #[cfg(feature = "test-support")]
    pub fn for_test(identity: Identity) -> SignedIn {
        let key = format!("test:{}", identity.username);
        SignedIn { identity: Arc::new(identity), session_key: key.into(), access_token: None }
    }

    /// As [`SignedIn::for_test`], holding a real access token from the provider.
    #[cfg(feature = "test-support")]
    pub fn for_test_with_token(identity: Identity, token: String) -> SignedIn {
        SignedIn { access_token: Some(crate::config::Secret::new(token)), ..SignedIn::for_test(identity) }
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The signed-in person of this session, after enforcing the absolute
/// timeout and refreshing tokens that are about to expire. A session the
/// provider refuses to renew is emptied. While the provider cannot be
/// reached the session goes on until its tokens really expire; after that
/// it is kept, but nobody is signed in, until the provider can renew it.
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
            Renewal::Fresh(fresh) => {
                session.insert(USER_KEY, &fresh).await.ok()?;
                *fresh
            }
            // The tokens held still prove who this is; a later request tries again.
            Renewal::NotNow if now < user.expires_at => user,
            // Expired: nobody is signed in, but the session waits for the
            // provider to renew it.
            Renewal::NotNow if user.refresh_token.is_some() => return None,
            Renewal::NotNow | Renewal::Ended => {
                let _ = session.flush().await;
                return None;
            }
        }
    } else {
        user
    };
    let key = session.id().map(|id| id.to_string()).unwrap_or_default();
    let access_token = (!user.access_token.is_empty()).then(|| crate::config::Secret::new(user.access_token));
    Some(SignedIn { identity: Arc::new(user.identity), session_key: short_key(&key).into(), access_token })
}

/// What became of an attempt to renew a session's tokens.
enum Renewal {
    Fresh(Box<SessionUser>),
    /// The provider could not be asked, or there is nothing to ask it with.
    NotNow,
    /// The provider refused, or its answer cannot make a session.
    Ended,
}

async fn refresh(config: &Config, provider: &Provider, user: &SessionUser) -> Renewal {
    let who = user.identity.username.as_str();
    let Some(token) = user.refresh_token.as_deref() else {
        return Renewal::NotNow;
    };
    match provider.refresh(token).await {
        Ok(tokens) if tokens.subject == user.identity.subject => match SessionUser::from_tokens(config, tokens, user.signed_in_at) {
            Ok(fresh) => {
                tracing::debug!(user = who, "tokens refreshed");
                Renewal::Fresh(Box::new(fresh))
            }
            Err(why) => {
                tracing::info!(user = who, ?why, "refreshed tokens cannot make a session; signing out");
                Renewal::Ended
            }
        },
        Ok(_) => {
            tracing::warn!(user = who, "refresh returned another subject");
            Renewal::Ended
        }
        Err(OidcError::Unreachable(e)) => {
            tracing::debug!(user = who, error = %e, "cannot refresh now; keeping the session while its tokens last");
            Renewal::NotNow
        }
        Err(e @ (OidcError::Refused(_) | OidcError::Verification(_) | OidcError::UnknownKey | OidcError::Config(_))) => {
            tracing::info!(user = who, error = %e, "refresh refused; signing out");
            Renewal::Ended
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(email: Option<&str>, email_verified: Option<bool>) -> SignInTokens {
        SignInTokens {
            subject: "3f1c".into(),
            preferred_username: Some("alice".into()),
            email: email.map(str::to_owned),
            email_verified,
            ..SignInTokens::default()
        }
    }

    fn config(claim: UsernameClaim) -> Config {
        let mut config = Config::default();
        config.oidc.username_claim = claim;
        config
    }

    #[test]
    fn an_email_username_must_be_verified() {
        let by_email = config(UsernameClaim::Email);
        let user = SessionUser::from_tokens(&by_email, tokens(Some("alice@example.org"), Some(true)), 0).unwrap();
        assert_eq!(user.identity.username, "alice@example.org");
        for unverified in [Some(false), None] {
            let refused = SessionUser::from_tokens(&by_email, tokens(Some("alice@example.org"), unverified), 0);
            assert_eq!(refused.unwrap_err(), Unusable::EmailNotVerified, "email_verified {unverified:?}");
        }
        let refused = SessionUser::from_tokens(&by_email, tokens(None, Some(true)), 0);
        assert_eq!(refused.unwrap_err(), Unusable::NoUsername);
    }

    #[test]
    fn other_username_claims_do_not_need_a_verified_email() {
        let user = SessionUser::from_tokens(&config(UsernameClaim::PreferredUsername), tokens(Some("a@example.org"), Some(false)), 0);
        assert_eq!(user.unwrap().identity.username, "alice");
        let user = SessionUser::from_tokens(&config(UsernameClaim::Sub), tokens(None, None), 0);
        assert_eq!(user.unwrap().identity.username, "3f1c");
    }
}
