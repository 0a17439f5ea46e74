//! The portal's HTTP client towards the identity provider (discovery, keys,
//! token endpoint), and the memory of whether the provider is down.

use crate::config::Config;
use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse, reqwest};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// After the provider could not be reached, token refreshes and new
/// sign-ins fail fast for this long instead of each waiting on the network.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a call to the provider got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum BackChannelError {
    #[error(transparent)]
    Http(#[from] HttpClientError<reqwest::Error>),
    /// The provider (or a proxy in front of it) answered 5xx or 429: it is
    /// down, starting or busy, which is not a refusal.
    #[error("the provider answered {0}")]
    Unavailable(u16),
}

/// Redirects are never followed; 5xx answers are errors.
pub struct BackChannel {
    http: reqwest::Client,
    down_since: Mutex<Option<Instant>>,
}

impl BackChannel {
    pub fn new(config: &Config) -> Result<BackChannel, String> {
        let mut http = reqwest::ClientBuilder::new();
        if let Some(path) = &config.oidc.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let cas = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
            for ca in cas {
                http = http.add_root_certificate(ca);
            }
        }
        if let Some(ip) = config.oidc.provider_address {
            let issuer = url::Url::parse(&config.oidc.issuer_url).map_err(|e| format!("oidc.issuer_url: {e}"))?;
            let host = issuer.host_str().ok_or("oidc.issuer_url has no host")?;
            // NB: the port of the URL wins over this one; 0 only fills the gap.
            http = http.resolve(host, SocketAddr::new(ip, 0));
        }
        let http = http
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(BackChannel { http, down_since: Mutex::new(None) })
    }

    /// A plain GET, for the readiness check.
    pub async fn get(&self, url: &str) -> Result<reqwest::Response, reqwest::Error> {
        self.http.get(url).send().await
    }

    /// Whether the provider was found unreachable less than [`RETRY_AFTER`] ago.
    pub fn recently_down(&self) -> bool {
        self.down_since.lock().expect("back channel").is_some_and(|at| at.elapsed() < RETRY_AFTER)
    }

    /// Records the outcome of a call: only reachability matters here.
    pub fn record(&self, reachable: bool) {
        let mut down = self.down_since.lock().expect("back channel");
        match (down.is_some(), reachable) {
            (false, false) => tracing::warn!("the identity provider cannot be reached; signed-in people go on with the tokens they hold"),
            (true, true) => tracing::info!("the identity provider answers again"),
            (false, true) | (true, false) => {}
        }
        *down = (!reachable).then(Instant::now);
    }
}

impl<'c> AsyncHttpClient<'c> for BackChannel {
    type Error = BackChannelError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BackChannelError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = <reqwest::Client as AsyncHttpClient>::call(&self.http, request).await?;
            if response.status().is_server_error() || response.status() == 429 {
                return Err(BackChannelError::Unavailable(response.status().as_u16()));
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_for_a_moment_after_a_failure_and_up_after_a_success() {
        let mut config = Config::default();
        config.oidc.provider_address = Some([127, 0, 0, 2].into());
        let back = BackChannel::new(&config).expect("a client");
        assert!(!back.recently_down());
        back.record(false);
        assert!(back.recently_down());
        back.record(true);
        assert!(!back.recently_down());
        *back.down_since.lock().unwrap() = Instant::now().checked_sub(RETRY_AFTER);
        assert!(!back.recently_down(), "tried again after {RETRY_AFTER:?}");
    }
}
