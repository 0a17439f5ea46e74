//! A small reverse proxy for HTTP and WebSocket traffic. It puts JupyterLab
//! behind the portal at `/notebook/{team}/{name}/…`: the request goes to the
//! notebook server with its path and query unchanged, and the answer streams
//! back to the browser.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{AUTHORIZATION, CONNECTION, COOKIE, HOST, SET_COOKIE, UPGRADE};
use axum::http::uri::{PathAndQuery, Uri};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What the browser sees when the notebook server cannot be reached.
const NOT_ANSWERING: &str = "The notebook server is not answering. It may still be starting.";

/// The portal's own cookies (its session, and the notebook origin's
/// grant) start so; they never reach a notebook.
fn is_portal_cookie(name: &[u8]) -> bool {
    name.starts_with(b"atrium") || name.starts_with(b"__Host-atrium")
}

/// Where a request goes, and what the proxy adds on the way.
pub struct Target<'a> {
    /// e.g. "http://10.0.0.7:8888"
    pub upstream: &'a str,
    /// The notebook's Jupyter token, sent as `Authorization: token …`.
    pub token: Option<&'a str>,
    /// The scheme people used ("http" or "https"), for `X-Forwarded-Proto`.
    pub scheme: &'a str,
}

/// Headers that describe one connection and must not be passed on.
const HOP_BY_HOP: [&str; 6] =
    ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"];

/// Forwards `req` to `upstream` (e.g. "http://127.0.0.1:8888"), keeping the path and query unchanged.
#[derive(Clone)]
pub struct Proxy {
    client: Client<HttpConnector, Body>,
}

impl Default for Proxy {
    fn default() -> Self {
        Self::new()
    }
}

impl Proxy {
    /// A proxy with a pool of HTTP/1.1 connections. Connecting gives up after
    /// 5 seconds; a request itself may last as long as it likes.
    pub fn new() -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        Proxy { client: Client::builder(TokioExecutor::new()).build(connector) }
    }

    /// GETs `url` with the same connection pool (no cookies; the notebook's
    /// token if given): the body of a successful answer of at most `limit` bytes.
    pub async fn get(&self, url: &str, token: Option<&str>, limit: usize, timeout: Duration) -> Option<axum::body::Bytes> {
        let mut req = http::Request::get(url);
        if let Some(token) = token {
            req = req.header(AUTHORIZATION, format!("token {token}"));
        }
        let req = req.body(Body::empty()).ok()?;
        let res = tokio::time::timeout(timeout, self.client.request(req)).await.ok()?.ok()?;
        if !res.status().is_success() {
            tracing::debug!(url, status = %res.status(), "upstream answered without success");
            return None;
        }
        axum::body::to_bytes(Body::new(res.into_body()), limit).await.ok()
    }

    /// Sends `req` to the target and returns its answer, without any
    /// `Set-Cookie` (a notebook sets no cookie in people's browsers). An
    /// upstream given with a path (e.g. "http://host:8888/base") gets that
    /// path in front of the request's path. WebSocket upgrades are spliced
    /// through.
    pub async fn forward(&self, target: &Target<'_>, req: Request) -> Response {
        self.forward_until(target, req, std::future::pending()).await
    }

    /// As [`Proxy::forward`]; a WebSocket spliced through is closed when
    /// `ended` resolves (the person may no longer use the notebook).
    pub async fn forward_until(&self, target: &Target<'_>, mut req: Request, ended: impl Future<Output = ()> + Send + 'static) -> Response {
        let upstream = target.upstream;
        let Some(uri) = upstream_uri(upstream, req.uri()) else {
            tracing::warn!(upstream, "notebook proxy: upstream is not a plain http:// address");
            return bad_gateway();
        };
        let websocket = is_websocket(req.headers());
        let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));

        let (mut parts, body) = req.into_parts();
        let client_ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        if !parts.headers.contains_key(HOST)
            && let Some(authority) = parts.uri.authority()
            && let Ok(host) = HeaderValue::from_str(authority.as_str())
        {
            parts.headers.insert(HOST, host);
        }
        strip_hop_by_hop(&mut parts.headers, websocket);
        strip_credentials(&mut parts.headers);
        if let Some(token) = target.token
            && let Ok(value) = HeaderValue::from_str(&format!("token {token}"))
        {
            parts.headers.insert(AUTHORIZATION, value);
        }
        add_forwarded(&mut parts.headers, target.scheme, client_ip);
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        parts.extensions = Default::default();

        let mut resp = match self.client.request(Request::from_parts(parts, body)).await {
            Ok(resp) => resp,
            Err(error) => {
                tracing::warn!(upstream, ?error, "notebook proxy: upstream request failed");
                return bad_gateway();
            }
        };

        let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
        strip_hop_by_hop(resp.headers_mut(), switching);
        resp.headers_mut().remove(SET_COOKIE);
        if switching {
            let Some(client_upgrade) = client_upgrade else {
                tracing::warn!(upstream, "notebook proxy: upstream switched protocols unasked");
                return bad_gateway();
            };
            tokio::spawn(splice(client_upgrade, hyper::upgrade::on(&mut resp), ended));
        }
        resp.map(Body::new)
    }
}

/// Once both sides have switched protocols, copies bytes both ways until one
/// side closes or `ended` resolves; then both connections are closed. NB: no
/// WebSocket close frame is sent, as one could land inside a frame being
/// copied; the browser sees the connection drop (1006) and reconnects,
/// which is checked afresh.
async fn splice(client: OnUpgrade, upstream: OnUpgrade, ended: impl Future<Output = ()>) {
    let _open = crate::platform::metrics::OpenStream::new();
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            tokio::select! {
                copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                    if let Err(error) = copied {
                        tracing::debug!(%error, "notebook proxy: websocket closed with an error");
                    }
                }
                () = ended => tracing::info!("notebook proxy: websocket closed, access ended"),
            }
        }
        Err(error) => tracing::warn!(%error, "notebook proxy: websocket upgrade failed"),
    }
}

/// The upstream base joined with the request's path and query, or `None`
/// when the upstream is not a plain `http://` address.
fn upstream_uri(upstream: &str, incoming: &Uri) -> Option<Uri> {
    let base: Uri = upstream.parse().ok()?;
    if base.scheme_str() != Some("http") {
        return None;
    }
    let prefix = base.path().trim_end_matches('/');
    let rest = incoming.path_and_query().map_or("/", PathAndQuery::as_str);
    let path = PathAndQuery::try_from(format!("{prefix}{rest}")).ok()?;
    Uri::builder()
        .scheme("http")
        .authority(base.authority()?.clone())
        .path_and_query(path)
        .build()
        .ok()
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers.get(UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Removes hop-by-hop headers, including `Proxy-*` ones and any named in
/// `Connection`. With `keep_upgrade`, `Upgrade` survives and `Connection`
/// becomes `upgrade`, as a protocol switch needs.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let upgrade = headers.get(UPGRADE).cloned();
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|n| HOP_BY_HOP.contains(&n.as_str()) || n.as_str().starts_with("proxy-"))
        .cloned()
        .chain(named)
        .collect();
    for name in doomed {
        headers.remove(name);
    }
    if keep_upgrade && let Some(upgrade) = upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, upgrade);
    }
}

/// Removes what proves the user's identity to the portal: `Authorization`,
/// `Impersonate-*` and the portal's cookies. Other cookies stay.
fn strip_credentials(headers: &mut HeaderMap) {
    let doomed: Vec<HeaderName> =
        headers.keys().filter(|n| n.as_str().starts_with("impersonate-")).cloned().collect();
    for name in doomed {
        headers.remove(name);
    }
    headers.remove(AUTHORIZATION);

    let kept: Vec<u8> = headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .map(<[u8]>::trim_ascii)
        .filter(|pair| {
            let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
            !pair.is_empty() && !is_portal_cookie(name.trim_ascii())
        })
        .collect::<Vec<_>>()
        .join(&b"; "[..]);
    headers.remove(COOKIE);
    if !kept.is_empty()
        && let Ok(cookie) = HeaderValue::from_bytes(&kept)
    {
        headers.insert(COOKIE, cookie);
    }
}

/// Sets `X-Forwarded-Proto`, `-Host` and `-For` from what the portal knows,
/// replacing whatever the client sent (never trusted).
fn add_forwarded(headers: &mut HeaderMap, scheme: &str, client_ip: Option<std::net::IpAddr>) {
    let proto = if scheme == "https" { "https" } else { "http" };
    headers.insert("x-forwarded-proto", HeaderValue::from_static(proto));
    match headers.get(HOST).cloned() {
        Some(host) => headers.insert("x-forwarded-host", host),
        None => headers.remove("x-forwarded-host"),
    };
    match client_ip.and_then(|ip| HeaderValue::from_str(&ip.to_string()).ok()) {
        Some(ip) => headers.insert("x-forwarded-for", ip),
        None => headers.remove("x-forwarded-for"),
    };
}

fn bad_gateway() -> Response {
    (StatusCode::BAD_GATEWAY, NOT_ANSWERING).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use futures::{SinkExt, StreamExt};
    use serde_json::{Value, json};
    use std::sync::Arc;
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::Message;

    /// An upstream that answers 201 with a JSON description of what it got.
    async fn echo_upstream() -> String {
        async fn echo(req: Request) -> Response {
            let (parts, body) = req.into_parts();
            let header = |name: &str| {
                parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
            };
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let seen = json!({
                "method": parts.method.as_str(),
                "uri": parts.uri.to_string(),
                "host": header("host"),
                "cookie": header("cookie"),
                "authorization": header("authorization"),
                "impersonate": header("impersonate-user"),
                "xff": header("x-forwarded-for"),
                "proto": header("x-forwarded-proto"),
                "hop": header("x-hop"),
                "body": String::from_utf8_lossy(&body),
            });
            let headers = [("x-upstream", "yes"), ("set-cookie", "atrium_session=from-the-notebook; Path=/")];
            (StatusCode::CREATED, headers, seen.to_string()).into_response()
        }
        serve(Router::new().fallback(echo)).await
    }

    /// The portal side: every request goes through the proxy to `upstream`.
    async fn front(upstream: String) -> String {
        let proxy = Arc::new(Proxy::new());
        let upstream = Arc::new(upstream);
        serve(Router::new().fallback(move |req: Request| {
            let (proxy, upstream) = (proxy.clone(), upstream.clone());
            async move { proxy.forward(&Target { upstream: &upstream, token: Some("nb-token"), scheme: "https" }, req).await }
        }))
        .await
    }

    async fn serve(router: Router) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        format!("http://{addr}")
    }

    async fn send(req: Request) -> (StatusCode, HeaderMap, String) {
        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let resp = client.request(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let body = axum::body::to_bytes(Body::new(body), usize::MAX).await.unwrap();
        (parts.status, parts.headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn get_keeps_path_query_and_host_but_not_credentials() {
        let front = front(echo_upstream().await).await;
        let req = Request::get(format!("{front}/notebook/t/n/api/status?x=1"))
            .header("host", "portal.example:8443")
            .header("cookie", "atrium_session=secret; _xsrf=abc; __Host-atrium_notebook=grant")
            .header("cookie", "other=1")
            .header("authorization", "Bearer secret")
            .header("impersonate-user", "alice")
            .header("x-forwarded-for", "6.6.6.6")
            .header("x-forwarded-proto", "http")
            .header("connection", "keep-alive, x-hop")
            .header("x-hop", "1")
            .body(Body::empty())
            .unwrap();
        let (status, headers, body) = send(req).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(headers["x-upstream"], "yes");
        assert!(headers.get(SET_COOKIE).is_none(), "a notebook sets no cookie in the browser");
        let seen: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(seen["method"], "GET");
        assert_eq!(seen["uri"], "/notebook/t/n/api/status?x=1");
        assert_eq!(seen["host"], "portal.example:8443");
        assert_eq!(seen["cookie"], "_xsrf=abc; other=1");
        assert_eq!(seen["authorization"], "token nb-token", "the notebook's token, not the browser's credentials");
        assert_eq!(seen["impersonate"], Value::Null);
        assert_eq!(seen["xff"], "127.0.0.1", "the client's own X-Forwarded-For is not trusted");
        assert_eq!(seen["proto"], "https");
        assert_eq!(seen["hop"], Value::Null);
    }

    #[tokio::test]
    async fn post_body_is_forwarded_and_base_path_is_prepended() {
        let upstream = echo_upstream().await;
        let front = front(format!("{upstream}/base/")).await;
        let text = "x".repeat(100_000);
        let req = Request::post(format!("{front}/notebook/t/n/api/contents"))
            .header("cookie", "atrium_session=secret")
            .body(Body::from(text.clone()))
            .unwrap();
        let (status, _, body) = send(req).await;
        assert_eq!(status, StatusCode::CREATED);
        let seen: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(seen["method"], "POST");
        assert_eq!(seen["uri"], "/base/notebook/t/n/api/contents");
        assert_eq!(seen["cookie"], Value::Null);
        assert_eq!(seen["body"], text);
    }

    #[tokio::test]
    #[allow(clippy::result_large_err)] // the handshake callback type is tungstenite's
    async fn websocket_echo_goes_through() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = format!("http://{}", listener.local_addr().unwrap());
        let (path_tx, path_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let record = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp| {
                let _ = path_tx.send(req.uri().to_string());
                Ok(resp)
            };
            let mut ws = tokio_tungstenite::accept_hdr_async(stream, record).await.unwrap();
            while let Some(Ok(msg)) = ws.next().await {
                if msg.is_text() && ws.send(msg).await.is_err() {
                    break;
                }
            }
        });
        let front = front(upstream).await;
        let url = front.replace("http://", "ws://") + "/notebook/t/n/api/kernels/k/channels?s=1";
        let (mut ws, resp) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        ws.send(Message::text("hello")).await.unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert_eq!(reply, Message::text("hello"));
        assert_eq!(path_rx.await.unwrap(), "/notebook/t/n/api/kernels/k/channels?s=1");
    }

    #[tokio::test]
    async fn websocket_is_closed_when_access_ends() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = format!("http://{}", listener.local_addr().unwrap());
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
            while let Some(Ok(msg)) = ws.next().await {
                if msg.is_text() && ws.send(msg).await.is_err() {
                    break;
                }
            }
            let _ = closed_tx.send(());
        });
        let (end_tx, end_rx) = tokio::sync::watch::channel(false);
        let proxy = Arc::new(Proxy::new());
        let front = serve(Router::new().fallback(move |req: Request| {
            let (proxy, upstream, mut end_rx) = (proxy.clone(), upstream.clone(), end_rx.clone());
            async move {
                let ended = async move {
                    let _ = end_rx.wait_for(|ended| *ended).await;
                };
                proxy.forward_until(&Target { upstream: &upstream, token: None, scheme: "http" }, req, ended).await
            }
        }))
        .await;
        let url = front.replace("http://", "ws://") + "/notebook/t/n/api/kernels/k/channels";
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.send(Message::text("before")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("before"));

        end_tx.send(true).unwrap();
        let after = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("the socket is closed at once");
        assert!(!matches!(after, Some(Ok(Message::Text(_)))), "nothing more comes through: {after:?}");
        assert!(ws.send(Message::text("after")).await.is_err() || ws.next().await.is_none_or(|m| m.is_err()), "the browser's side is gone");
        tokio::time::timeout(Duration::from_secs(5), closed_rx).await.expect("the notebook's side is closed too").unwrap();
    }

    #[tokio::test]
    async fn unreachable_or_unsupported_upstream_gives_502() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let proxy = Proxy::new();
        for upstream in [upstream.as_str(), "https://127.0.0.1:1", "not a url"] {
            let req = Request::get("/notebook/t/n/lab").body(Body::empty()).unwrap();
            let resp = proxy.forward(&Target { upstream, token: None, scheme: "http" }, req).await;
            assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            assert_eq!(body, NOT_ANSWERING);
        }
    }
}
