//! Access follows membership (issue 9, decision 0010): when a team admin
//! removes a member, that person's live notebook streams and notebook
//! WebSockets end, and their next page and server function for the team are
//! refused, within 5 s — on every portal process, each following RBAC with
//! its own watches. Against a real JupyterLab, a real Keycloak sign-in and
//! the local stack, with two portal processes sharing one database.

mod common;

use app::identity::Persona;
use app::notebooks::model::Phase;
use app::teams::members::SubjectKind;
use common::notebooks::{Team, served, start_kernel, wait_for};
use common::{as_user, browser, location, login_port, sign_in, start_portal, start_replica};
use futures::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// How soon after the removal everything must follow.
const WITHIN: Duration = Duration::from_secs(5);

#[test]
fn removing_a_member_ends_her_streams_and_sockets_and_refuses_her_within_5_s_on_every_replica() {
    // Rendering pages in a debug build needs more than the default stack (see src/main.rs).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build().unwrap();
    runtime.block_on(removing_a_member());
}

async fn removing_a_member() {
    let _port = login_port().await;
    let team = Team::new("it-member").await;
    let map = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(map.path(), "{}").unwrap();
    let notebooks = |c: &mut app::config::Config| {
        c.notebooks.backend = "statefulset".into();
        c.notebooks.upstream_map_file = Some(map.path().to_path_buf());
    };
    let one = start_portal(common::LOGIN_PORT, notebooks).await;
    let two = start_replica(0, &one, notebooks).await;

    // Alice's notebook, served by a real JupyterLab.
    let (_lab, _) = served(&one.state.notebooks, &team, "lab", map.path()).await;
    two.state.notebooks.index.wait_synced(Duration::from_secs(10)).await;
    wait_for(&two.state.notebooks, &team.name, "lab", Some(Phase::Running)).await;

    // She signs in once; the other process knows her session too.
    let (alice, jar) = browser();
    sign_in(&alice, &one.base, "alice", "/").await;
    for base in [&one.base, &two.base] {
        assert_eq!(team_page(&alice, base, &team.name).await, 200, "{base}: her team's notebooks page");
        assert_eq!(team_function(&alice, base, &team.name).await, 200, "{base}: her team's notebooks");
    }

    // Her open connections: a kernel's WebSocket on the notebook's own
    // origin, the live stream of all her teams on one process and of this
    // team on the other.
    let ws = kernel_socket(&alice, &jar, &one.base, &team.name).await;
    let all_teams = live_stream(&alice, &format!("{}/api/notebooks/stream", one.base), "lab").await;
    let this_team = live_stream(&alice, &format!("{}/api/notebooks/stream?team={}", two.base, team.name), "lab").await;

    // Her team admin removes her (straight to Kubernetes: neither portal is told).
    let tom = as_user("tom").await;
    let removing = Instant::now();
    app::teams::members_server::set_personas(&tom, &team.name, SubjectKind::User, "alice", &[] as &[Persona])
        .await
        .expect("team admin removes alice");
    let removed = Instant::now();

    for (what, ended) in [("the notebook WebSocket", ws), ("the all-teams stream on one", all_teams), ("the team's stream on two", this_team)] {
        let at = tokio::time::timeout(WITHIN + Duration::from_secs(1), ended)
            .await
            .unwrap_or_else(|_| panic!("{what} is still open {} s after the removal", WITHIN.as_secs() + 1))
            .unwrap();
        assert!(at >= removing, "{what} ended before she was removed");
        assert!(at.duration_since(removed) <= WITHIN, "{what} ended {:?} after the removal", at.duration_since(removed));
        println!("{what} ended {:?} after the removal", at.duration_since(removed));
    }
    for base in [&one.base, &two.base] {
        refused_soon(removed, base, "her team's notebooks page", || team_page(&alice, base, &team.name)).await;
        refused_soon(removed, base, "her team's notebooks", || team_function(&alice, base, &team.name)).await;
    }

    // Reconnecting: the team's stream is refused; the all-teams stream no
    // longer carries the team; the notebook's origin refuses her.
    let res = alice.get(format!("{}/api/notebooks/stream?team={}", two.base, team.name)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let (first, _) = open_stream(&alice, &format!("{}/api/notebooks/stream", one.base)).await;
    assert!(!first.contains(&team.name), "the all-teams stream still shows the team: {first}");
    let origin = format!("http://{}--lab.localhost:{}", team.name, common::LOGIN_PORT);
    let res = alice.get(format!("{origin}/notebook/{}/lab/api/status", team.name)).send().await.unwrap();
    assert_eq!(res.status(), 403, "the notebook's origin refuses her");
    team.retire().await;
}

/// `GET /notebooks/{team}`: the status of the page.
async fn team_page(client: &reqwest::Client, base: &str, team: &str) -> u16 {
    client.get(format!("{base}/notebooks/{team}")).send().await.unwrap().status().as_u16()
}

/// The notebooks page's server function for one team: its status.
async fn team_function(client: &reqwest::Client, base: &str, team: &str) -> u16 {
    let res = client.post(format!("{base}/api/notebooks")).header("origin", base).form(&[("team", team)]).send().await.unwrap();
    res.status().as_u16()
}

/// Asks until refused (403), failing if that takes longer than [`WITHIN`]
/// after `removed`.
async fn refused_soon<F: Future<Output = u16>>(removed: Instant, base: &str, what: &str, ask: impl Fn() -> F) {
    loop {
        let status = ask().await;
        if status == 403 {
            return;
        }
        assert!(removed.elapsed() <= WITHIN, "{base}: {what} still answers {status} {:?} after the removal", removed.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Body = futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>;

/// Opens the live stream at `url` and reads its first message.
async fn open_stream(client: &reqwest::Client, url: &str) -> (String, Body) {
    let res = client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let mut body: Body = res.bytes_stream().map(|c| c.map(|b| b.to_vec())).boxed();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next()).await.expect("a first message").expect("open").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    (text, body)
}

/// Opens the live stream at `url`, checks that its first message shows
/// `notebook`, then follows it in the background: the task ends with the
/// time the stream ended.
async fn live_stream(client: &reqwest::Client, url: &str, notebook: &str) -> JoinHandle<Instant> {
    let (first, mut body) = open_stream(client, url).await;
    assert!(first.contains(&format!("\"name\":\"{notebook}\"")), "{url}: the first message shows her notebook: {first}");
    tokio::spawn(async move {
        while let Some(Ok(_)) = body.next().await {}
        Instant::now()
    })
}

/// Opens the notebook as she would (hand-over to its origin), starts a
/// kernel, and speaks to it over a WebSocket on the notebook's origin; then
/// follows the socket in the background: the task ends with the time the
/// socket closed.
async fn kernel_socket(alice: &reqwest::Client, jar: &reqwest::cookie::Jar, base: &str, team: &str) -> JoinHandle<Instant> {
    use reqwest::cookie::CookieStore as _;
    let res = alice.get(format!("{base}/notebook/{team}/lab/lab")).send().await.unwrap();
    assert_eq!(res.status(), 303, "she may open her notebook");
    let res = alice.get(location(&res)).send().await.unwrap();
    assert!(res.status().is_redirection(), "the notebook's origin takes the ticket: {}", res.status());
    let origin = format!("http://{team}--lab.localhost:{}", common::LOGIN_PORT);
    let lab = format!("{origin}/notebook/{team}/lab");
    let id = start_kernel(&alice, &lab, &origin).await;
    let cookie = jar.cookies(&lab.parse().unwrap()).expect("the notebook origin's cookie").to_str().unwrap().to_string();
    let url = format!("ws://127.0.0.1:{}/notebook/{team}/lab/api/kernels/{id}/channels", common::LOGIN_PORT);
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    req.headers_mut().insert("host", origin.trim_start_matches("http://").parse().unwrap());
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    req.headers_mut().insert("origin", origin.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("a WebSocket on the notebook's origin");
    let msg_id = "it-membership";
    let request = serde_json::json!({
        "header": {"msg_id": msg_id, "username": "alice", "session": "it", "msg_type": "kernel_info_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"
    });
    ws.send(Message::text(request.to_string())).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Ok(text) = m.to_text()
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
                && v["msg_type"] == "kernel_info_reply"
                && v["parent_header"]["msg_id"] == msg_id
            {
                return;
            }
        }
        panic!("websocket closed before the kernel answered");
    })
    .await
    .expect("the kernel answers");
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
        Instant::now()
    })
}
