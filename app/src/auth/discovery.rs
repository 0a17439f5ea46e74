//! The provider's discovery document and signing keys (JWKS). They are
//! fetched again when a token names a key the portal does not know (the
//! provider rotated its keys), and otherwise at most every
//! `oidc.keys_refresh_minutes`. While the provider is down the keys already
//! fetched stay in use.

use super::back_channel::BackChannel;
use super::oidc::{OidcClient, OidcError, error_chain};
use crate::config::Config;
use openidconnect::{ClientId, ClientSecret, EndSessionUrl, IssuerUrl, ProviderMetadataWithLogout, RedirectUrl};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// One fetch of the discovery document and the keys it points at.
pub(super) struct Discovered {
    pub client: OidcClient,
    pub end_session: Option<EndSessionUrl>,
    fetched_at: Instant,
}

pub(super) struct Discovery {
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect: String,
    refresh_every: Duration,
    current: RwLock<Option<Arc<Discovered>>>,
    /// One fetch at a time; the others use its result.
    fetching: tokio::sync::Mutex<()>,
}

impl Discovery {
    pub fn new(config: &Config) -> Discovery {
        Discovery {
            issuer: config.oidc.issuer_url.clone(),
            client_id: config.oidc.client_id.clone(),
            client_secret: config.oidc.client_secret.expose().to_owned(),
            redirect: config.redirect_url(),
            refresh_every: Duration::from_secs(config.oidc.keys_refresh_minutes * 60),
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self) -> Option<Arc<Discovered>> {
        self.current.read().expect("discovery").clone()
    }

    fn fresh(&self, d: &Discovered) -> bool {
        d.fetched_at.elapsed() < self.refresh_every
    }

    /// The discovered provider: fetched when there is none yet or it is due,
    /// else (and whenever fetching fails) the one already held.
    pub async fn current(&self, back: &BackChannel) -> Result<Arc<Discovered>, OidcError> {
        let cached = self.cached();
        if let Some(d) = &cached
            && self.fresh(d)
        {
            return Ok(d.clone());
        }
        let _one = match (self.fetching.try_lock(), cached) {
            (Ok(guard), _) => guard,
            // Someone is fetching already: the keys we hold still serve.
            (Err(_), Some(d)) => return Ok(d),
            (Err(_), None) => self.fetching.lock().await,
        };
        let cached = self.cached();
        if let Some(d) = &cached
            && self.fresh(d)
        {
            return Ok(d.clone());
        }
        if back.recently_down()
            && let Some(d) = cached
        {
            return Ok(d);
        }
        match (self.fetch(back).await, cached) {
            (Ok(d), _) => Ok(d),
            (Err(e), Some(d)) => {
                tracing::warn!(error = %e, "cannot fetch the identity provider's keys again; keeping those we have");
                Ok(d)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// Fetches discovery and keys again because a token was signed with a key
    /// `seen` does not hold; unless another request already did so since.
    pub async fn renew(&self, back: &BackChannel, seen: &Arc<Discovered>) -> Result<Arc<Discovered>, OidcError> {
        let _one = self.fetching.lock().await;
        if let Some(d) = self.cached()
            && !Arc::ptr_eq(&d, seen)
        {
            return Ok(d);
        }
        tracing::info!("a token names a signing key the portal does not know; fetching the provider's keys again");
        self.fetch(back).await
    }

    async fn fetch(&self, back: &BackChannel) -> Result<Arc<Discovered>, OidcError> {
        if back.recently_down() {
            return Err(OidcError::Unreachable("unreachable a moment ago".into()));
        }
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
        // NB: any failure counts as unreachable, never as a refusal: a
        // broken discovery document must not end anyone's session.
        let meta = ProviderMetadataWithLogout::discover_async(issuer, back).await;
        back.record(meta.is_ok());
        let meta = meta.map_err(|e| OidcError::Unreachable(error_chain(&e)))?;
        let end_session = meta.additional_metadata().end_session_endpoint.clone();
        let redirect = RedirectUrl::new(self.redirect.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
        let secret = (!self.client_secret.is_empty()).then(|| ClientSecret::new(self.client_secret.clone()));
        let client = OidcClient::from_provider_metadata(meta, ClientId::new(self.client_id.clone()), secret)
            .set_redirect_uri(redirect);
        let d = Arc::new(Discovered { client, end_session, fetched_at: Instant::now() });
        *self.current.write().expect("discovery") = Some(d.clone());
        Ok(d)
    }
}
