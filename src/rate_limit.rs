//! Rate limits: sign-in per client address, server functions per session.
//! Token buckets in memory, so each replica counts on its own; a refused
//! request gets 429 with `Retry-After`.

use app::auth::SignedIn;
use app::components::plain_page::plain_page;
use app::config::Config;
use app::error::AppError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// Keys remembered at most; beyond, refilled buckets are forgotten first.
const MAX_KEYS: usize = 10_000;

/// One token bucket per key: a burst of `per_minute`, refilled evenly.
pub struct Buckets {
    per_minute: u32,
    max_keys: usize,
    keys: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Buckets {
    pub fn new(per_minute: u32, max_keys: usize) -> Buckets {
        Buckets { per_minute: per_minute.max(1), max_keys: max_keys.max(1), keys: Mutex::default() }
    }

    /// Takes a token for `key`, or says how long until one is there.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let mut keys = self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !keys.contains_key(key) && keys.len() >= self.max_keys {
            self.evict(&mut keys, now);
        }
        let bucket = keys.entry(key.to_string()).or_insert(Bucket { tokens: capacity, at: now });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * capacity / 60.0;
        bucket.tokens = (bucket.tokens + refilled).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) * 60.0 / capacity))
        }
    }

    /// Forgets buckets untouched for a minute (full again, as good as new);
    /// if every key is busy, the one untouched longest.
    fn evict(&self, keys: &mut HashMap<String, Bucket>, now: Instant) {
        keys.retain(|_, b| now.saturating_duration_since(b.at) < Duration::from_secs(60));
        if keys.len() >= self.max_keys {
            let oldest = keys.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                keys.remove(&k);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.lock().unwrap().len()
    }
}

/// Sign-in starts and returns, per client address.
#[derive(Clone)]
pub struct SignInLimit {
    buckets: Arc<Buckets>,
    trust_forwarded: bool,
}

impl SignInLimit {
    pub fn new(config: &Config) -> SignInLimit {
        let buckets = Buckets::new(config.rate_limits.sign_ins_per_minute, MAX_KEYS);
        SignInLimit { buckets: Arc::new(buckets), trust_forwarded: config.trust_forwarded_headers }
    }
}

/// Middleware: `/auth/login` and `/auth/callback`, each counted per address.
pub async fn sign_ins(State(limit): State<SignInLimit>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !matches!(path, "/auth/login" | "/auth/callback") {
        return next.run(req).await;
    }
    let Some(ip) = client_ip(&req, limit.trust_forwarded) else {
        return next.run(req).await;
    };
    match limit.buckets.take(&format!("{path} {}", address_key(ip)), Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::warn!(%ip, path, "too many sign-in requests");
            let message = "Too many sign-in attempts from your address. Please wait a minute and try again.";
            with_retry_after(plain_page(StatusCode::TOO_MANY_REQUESTS, "Slow down", message, None), wait)
        }
    }
}

/// Server-function calls, per session.
#[derive(Clone)]
pub struct ServerFunctionLimit(Arc<Buckets>);

impl ServerFunctionLimit {
    pub fn new(config: &Config) -> ServerFunctionLimit {
        ServerFunctionLimit(Arc::new(Buckets::new(config.rate_limits.server_functions_per_minute, MAX_KEYS)))
    }
}

/// Middleware, inside the session gate: `POST /api/…` per session, refused
/// with the typed error server functions answer with.
pub async fn server_functions(State(limit): State<ServerFunctionLimit>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let Some(key) = req.extensions().get::<SignedIn>().map(|who| who.session_key().to_string()) else {
        return next.run(req).await;
    };
    match limit.0.take(&key, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::warn!(path = %req.uri().path(), "too many server-function calls in one session");
            let body = serde_json::to_string(&AppError::TooManyRequests).unwrap_or_default();
            let res = (StatusCode::TOO_MANY_REQUESTS, [(header::CONTENT_TYPE, "application/json")], body);
            with_retry_after(res.into_response(), wait)
        }
    }
}

/// The client's address: the TCP peer, or, when a proxy in front is
/// trusted, the last address in `X-Forwarded-For` (the one it added).
pub fn client_ip(req: &Request, trust_forwarded: bool) -> Option<IpAddr> {
    if trust_forwarded && let Some(ip) = forwarded_for(req.headers()) {
        return Some(ip);
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if peer.is_none() {
        static WARN: Once = Once::new();
        WARN.call_once(|| tracing::warn!("no client address (serve with connect info); sign-in is not rate limited"));
    }
    peer
}

fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    last.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// IPv6 clients are counted per /64, what one host usually holds.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

fn with_retry_after(mut res: Response, wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_token_per_interval() {
        let buckets = Buckets::new(20, 100);
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(buckets.take("1.2.3.4", t0), Ok(()), "request {i}");
        }
        let wait = buckets.take("1.2.3.4", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(3), "the 21st waits for the next token");
        assert!(buckets.take("5.6.7.8", t0).is_ok(), "other keys are not affected");
        assert!(buckets.take("1.2.3.4", t0 + Duration::from_secs(3)).is_ok());
        assert!(buckets.take("1.2.3.4", t0 + Duration::from_secs(3)).is_err());
    }

    #[test]
    fn memory_stays_bounded() {
        let buckets = Buckets::new(5, 3);
        let t0 = Instant::now();
        for k in ["a", "b", "c"] {
            buckets.take(k, t0).unwrap();
        }
        buckets.take("d", t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(buckets.len(), 3, "the oldest busy key made room");
        buckets.take("e", t0 + Duration::from_secs(120)).unwrap();
        assert_eq!(buckets.len(), 1, "refilled keys are forgotten");
    }

    #[test]
    fn forwarded_addresses_only_when_trusted() {
        let mut req = Request::new(axum::body::Body::empty());
        req.headers_mut().insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 10.0.0.7"));
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 168, 1, 2], 4000))));
        assert_eq!(client_ip(&req, false), Some(IpAddr::from([192, 168, 1, 2])));
        assert_eq!(client_ip(&req, true), Some(IpAddr::from([10, 0, 0, 7])), "the proxy's own entry, not the client's");
        let bare = Request::new(axum::body::Body::empty());
        assert_eq!(client_ip(&bare, false), None);
    }

    #[test]
    fn ipv6_clients_count_per_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(IpAddr::from([1, 2, 3, 4])), "1.2.3.4");
    }
}
