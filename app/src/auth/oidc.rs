//! OpenID Connect with the organisation's identity provider: discovery,
//! authorization code with PKCE, state and nonce, ID-token verification,
//! refresh, and RP-initiated logout.

use super::back_channel::{BackChannel, BackChannelError};
use super::discovery::{Discovered, Discovery};
use crate::config::Config;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, Client, ClientId, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenClaims, IdTokenFields, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, RefreshToken, RequestTokenError,
    Scope, SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `groups` claim Keycloak's group-membership mapper adds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupsClaims {
    #[serde(default)]
    pub groups: Vec<String>,
}
impl AdditionalClaims for GroupsClaims {}

type IdFields = IdTokenFields<GroupsClaims, EmptyExtraTokenFields, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
type TokenRequestError = RequestTokenError<BackChannelError, StandardErrorResponse<CoreErrorResponseType>>;
type AtriumIdToken = IdToken<GroupsClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
pub type Claims = IdTokenClaims<GroupsClaims, CoreGenderClaim>;
pub(super) type OidcClient = Client<
    GroupsClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the browser must bring back to finish signing in; kept server-side
/// in the (pre-login) session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where to go after signing in (a local path).
    pub next: String,
}

/// Verified tokens after sign-in or refresh.
#[derive(Clone, Debug, Default)]
pub struct SignInTokens {
    pub subject: String,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    /// The provider's `email_verified`: whether it checked that the person
    /// owns `email`.
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub id_token: String,
    /// The access token, which the API server accepts as the person in
    /// token passthrough.
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds at which the first of the ID and access tokens expires.
    pub expires_at: i64,
}

/// Why signing in (or refreshing) failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("identity provider unreachable: {0}")]
    Unreachable(String),
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("token verification failed: {0}")]
    Verification(String),
    /// Signed with a key the provider does not publish (even after the
    /// portal fetched its keys again).
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    #[error("misconfigured: {0}")]
    Config(String),
}

/// The identity provider as the portal sees it; discovery is retried until
/// it succeeds, so the portal can start before the provider does.
#[derive(Clone)]
pub struct Provider {
    back: Arc<BackChannel>,
    discovery: Arc<Discovery>,
    issuer: String,
    client_id: String,
    post_logout: String,
    scopes: Vec<String>,
    last_check: Arc<std::sync::Mutex<Option<CheckAnswer>>>,
}

/// The last answer of [`Provider::check`], and when it was given.
type CheckAnswer = (Instant, Result<(), String>);

impl Provider {
    pub fn new(config: &Config) -> Result<Provider, OidcError> {
        Ok(Provider {
            back: Arc::new(BackChannel::new(config).map_err(OidcError::Config)?),
            discovery: Arc::new(Discovery::new(config)),
            issuer: config.oidc.issuer_url.clone(),
            client_id: config.oidc.client_id.clone(),
            post_logout: config.signed_out_url(),
            scopes: config.oidc.scopes.clone(),
            last_check: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    /// Fails fast while the provider was unreachable a moment ago, so an
    /// outage does not make every request wait on the network.
    fn not_known_down(&self) -> Result<(), OidcError> {
        match self.back.recently_down() {
            true => Err(OidcError::Unreachable("unreachable a moment ago".into())),
            false => Ok(()),
        }
    }

    /// Starts a sign-in: the URL to send the browser to, and what to keep.
    pub async fn begin(&self, next: String) -> Result<(String, PendingLogin), OidcError> {
        self.not_known_down()?;
        let d = self.discovery.current(&self.back).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = d
            .client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
            next,
        };
        Ok((url.to_string(), pending))
    }

    /// Finishes a sign-in: exchanges the code and verifies the ID token
    /// (issuer, audience, expiry, signature, nonce).
    pub async fn finish(&self, pending: PendingLogin, code: String) -> Result<SignInTokens, OidcError> {
        let d = self.discovery.current(&self.back).await?;
        let tokens = d
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&*self.back)
            .await;
        let tokens = self.reached(tokens)?;
        let nonce = Nonce::new(pending.nonce);
        self.verify(d, &tokens, &nonce, None).await
    }

    /// Renews tokens before they expire. `Refused` means the provider ended
    /// the person's session; `Unreachable` means it could not be asked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<SignInTokens, OidcError> {
        self.not_known_down()?;
        let d = self.discovery.current(&self.back).await?;
        let rt = RefreshToken::new(refresh_token.to_owned());
        let tokens = d
            .client
            .exchange_refresh_token(&rt)
            .map_err(|e| OidcError::Config(e.to_string()))?
            .request_async(&*self.back)
            .await;
        let tokens = self.reached(tokens)?;
        self.verify(d, &tokens, |_: Option<&Nonce>| Ok(()), Some(refresh_token)).await
    }

    /// Notes whether a token request reached the provider, and maps its error.
    fn reached(&self, result: Result<Tokens, TokenRequestError>) -> Result<Tokens, OidcError> {
        self.back.record(!matches!(result, Err(openidconnect::RequestTokenError::Request(_))));
        result.map_err(token_error)
    }

    /// Verifies the ID token; a token signed with a key the portal does not
    /// hold yet makes it fetch the provider's keys again, once.
    async fn verify<N: openidconnect::NonceVerifier + Copy>(
        &self,
        d: Arc<Discovered>,
        tokens: &Tokens,
        nonce: N,
        previous_refresh: Option<&str>,
    ) -> Result<SignInTokens, OidcError> {
        match verified(&d.client, tokens, nonce, previous_refresh) {
            Err(OidcError::UnknownKey) => {
                let d = self.discovery.renew(&self.back, &d).await?;
                verified(&d.client, tokens, nonce, previous_refresh)
            }
            other => other,
        }
    }

    /// The provider's logout URL for this ID token, if it offers one.
    pub async fn logout_url(&self, id_token: &str) -> Option<String> {
        let d = self.discovery.current(&self.back).await.ok()?;
        let end = d.end_session.clone()?;
        let mut req = LogoutRequest::from(end).set_client_id(ClientId::new(self.client_id.clone()));
        if let Ok(token) = AtriumIdToken::from_str(id_token) {
            req = req.set_id_token_hint(&token);
        }
        if let Ok(post) = PostLogoutRedirectUrl::new(self.post_logout.clone()) {
            req = req.set_post_logout_redirect_uri(post);
        }
        Some(req.http_get_url().to_string())
    }

    /// For `/readyz`: can the provider's discovery document be fetched?
    /// Answers are reused for five seconds. NB: this probe is never skipped
    /// while the provider is thought down; its success ends that state.
    pub async fn check(&self) -> Result<(), String> {
        if let Some((at, result)) = self.last_check.lock().expect("oidc check").clone()
            && at.elapsed() < Duration::from_secs(5)
        {
            return result;
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let result = match self.back.get(&url).await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("answered {}", r.status().as_u16())),
            Err(_) => Err("unreachable".to_string()),
        };
        self.back.record(result.is_ok());
        if result.is_ok() {
            // Warm the discovered client so the first sign-in is quick.
            let _ = self.discovery.current(&self.back).await;
        }
        *self.last_check.lock().expect("oidc check") = Some((Instant::now(), result.clone()));
        result
    }
}

fn verified<N: openidconnect::NonceVerifier>(
    client: &OidcClient,
    tokens: &Tokens,
    nonce: N,
    previous_refresh: Option<&str>,
) -> Result<SignInTokens, OidcError> {
    let id_token = tokens.id_token().ok_or_else(|| OidcError::Verification("no ID token".into()))?;
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, nonce).map_err(|e| match e {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => OidcError::UnknownKey,
        e => OidcError::Verification(e.to_string()),
    })?;
    Ok(SignInTokens {
        subject: claims.subject().to_string(),
        preferred_username: claims.preferred_username().map(|u| u.to_string()),
        email: claims.email().map(|e| e.to_string()),
        email_verified: claims.email_verified(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
        groups: claims.additional_claims().groups.clone(),
        id_token: id_token.to_string(),
        access_token: tokens.access_token().secret().clone(),
        refresh_token: tokens
            .refresh_token()
            .map(|r| r.secret().clone())
            .or_else(|| previous_refresh.map(str::to_owned)),
        expires_at: match tokens.expires_in() {
            Some(lifetime) => claims.expiration().timestamp().min(time::OffsetDateTime::now_utc().unix_timestamp() + lifetime.as_secs() as i64),
            None => claims.expiration().timestamp(),
        },
    })
}

/// Only an answer from the provider is a refusal; no answer is not.
fn token_error(e: TokenRequestError) -> OidcError {
    match e {
        RequestTokenError::ServerResponse(r) => OidcError::Refused(r.error().to_string()),
        RequestTokenError::Request(e) => OidcError::Unreachable(error_chain(&e)),
        e @ (RequestTokenError::Parse(..) | RequestTokenError::Other(_)) => OidcError::Refused(error_chain(&e)),
    }
}

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}
