//! OpenID Connect with the organisation's identity provider: discovery,
//! authorization code with PKCE, state and nonce, ID-token verification,
//! refresh, and RP-initiated logout.

use crate::config::Config;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenClaims, IdTokenFields, IssuerUrl,
    LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, RefreshToken, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use openidconnect::{OAuth2TokenResponse, reqwest};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// The `groups` claim Keycloak's group-membership mapper adds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupsClaims {
    #[serde(default)]
    pub groups: Vec<String>,
}
impl AdditionalClaims for GroupsClaims {}

type IdFields = IdTokenFields<GroupsClaims, EmptyExtraTokenFields, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
type AtriumIdToken = IdToken<GroupsClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
pub type Claims = IdTokenClaims<GroupsClaims, CoreGenderClaim>;
type OidcClient = Client<
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
#[derive(Clone, Debug)]
pub struct SignInTokens {
    pub subject: String,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub id_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds at which the ID token expires.
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
    #[error("misconfigured: {0}")]
    Config(String),
}

struct Discovered {
    client: OidcClient,
    end_session: Option<EndSessionUrl>,
}

/// The identity provider as the portal sees it; discovery is retried until
/// it succeeds, so the portal can start before the provider does.
#[derive(Clone)]
pub struct Provider {
    http: reqwest::Client,
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect: String,
    post_logout: String,
    scopes: Vec<String>,
    discovered: Arc<RwLock<Option<Arc<Discovered>>>>,
    last_check: Arc<std::sync::Mutex<Option<(Instant, Result<(), String>)>>>,
}

impl Provider {
    pub fn new(config: &Config) -> Result<Provider, OidcError> {
        let http = reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| OidcError::Config(e.to_string()))?;
        Ok(Provider {
            http,
            issuer: config.oidc.issuer_url.clone(),
            client_id: config.oidc.client_id.clone(),
            client_secret: config.oidc.client_secret.expose().to_owned(),
            redirect: config.redirect_url(),
            post_logout: config.signed_out_url(),
            scopes: config.oidc.scopes.clone(),
            discovered: Arc::new(RwLock::new(None)),
            last_check: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    async fn discovered(&self) -> Result<Arc<Discovered>, OidcError> {
        if let Some(d) = self.discovered.read().await.clone() {
            return Ok(d);
        }
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
        let meta = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(error_chain(&e)))?;
        let end_session = meta.additional_metadata().end_session_endpoint.clone();
        let redirect = RedirectUrl::new(self.redirect.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
        let secret = (!self.client_secret.is_empty()).then(|| ClientSecret::new(self.client_secret.clone()));
        let client = OidcClient::from_provider_metadata(meta, ClientId::new(self.client_id.clone()), secret)
            .set_redirect_uri(redirect);
        let d = Arc::new(Discovered { client, end_session });
        *self.discovered.write().await = Some(d.clone());
        Ok(d)
    }

    /// Starts a sign-in: the URL to send the browser to, and what to keep.
    pub async fn begin(&self, next: String) -> Result<(String, PendingLogin), OidcError> {
        let d = self.discovered().await?;
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
        let d = self.discovered().await?;
        let tokens = d
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let nonce = Nonce::new(pending.nonce);
        verified(&d.client, &tokens, &nonce, None)
    }

    /// Renews tokens before the ID token expires; a refusal means the
    /// provider ended the person's session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<SignInTokens, OidcError> {
        let d = self.discovered().await?;
        let rt = RefreshToken::new(refresh_token.to_owned());
        let tokens = d
            .client
            .exchange_refresh_token(&rt)
            .map_err(|e| OidcError::Config(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        verified(&d.client, &tokens, |_: Option<&Nonce>| Ok(()), Some(refresh_token))
    }

    /// The provider's logout URL for this ID token, if it offers one.
    pub async fn logout_url(&self, id_token: &str) -> Option<String> {
        let d = self.discovered().await.ok()?;
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
    /// Answers are reused for five seconds.
    pub async fn check(&self) -> Result<(), String> {
        if let Some((at, result)) = self.last_check.lock().expect("oidc check").clone()
            && at.elapsed() < Duration::from_secs(5)
        {
            return result;
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let result = match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("answered {}", r.status().as_u16())),
            Err(_) => Err("unreachable".to_string()),
        };
        if result.is_ok() {
            // Warm the discovered client so the first sign-in is quick.
            let _ = self.discovered().await;
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
    let claims = id_token
        .claims(&verifier, nonce)
        .map_err(|e| OidcError::Verification(e.to_string()))?;
    Ok(SignInTokens {
        subject: claims.subject().to_string(),
        preferred_username: claims.preferred_username().map(|u| u.to_string()),
        email: claims.email().map(|e| e.to_string()),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
        groups: claims.additional_claims().groups.clone(),
        id_token: id_token.to_string(),
        refresh_token: tokens
            .refresh_token()
            .map(|r| r.secret().clone())
            .or_else(|| previous_refresh.map(str::to_owned)),
        expires_at: claims.expiration().timestamp(),
    })
}

fn token_error<RE: std::error::Error + 'static>(
    e: openidconnect::RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> OidcError {
    match e {
        openidconnect::RequestTokenError::ServerResponse(r) => OidcError::Refused(r.error().to_string()),
        openidconnect::RequestTokenError::Request(e) => OidcError::Unreachable(error_chain(&e)),
        other => OidcError::Refused(error_chain(&other)),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}
