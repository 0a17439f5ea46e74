//! Opening a notebook on its own origin, and stopping idle ones, against a
//! real JupyterLab (PyPI) behind the portal's proxy, a real Keycloak sign-in
//! and the local stack. The stack's pods do not really run, so the
//! notebook's address comes from the portal's address map.

mod common;

use app::notebooks::model::Phase;
use app::notebooks::ops;
use common::notebooks::{Team, served, start_kernel, wait_for};
use common::{browser, location, login_port, sign_in, start_portal};
use futures::{SinkExt, StreamExt};
use std::time::Duration;

#[tokio::test]
async fn jupyterlab_on_its_own_origin_for_those_kubernetes_allows_then_stopped_when_idle() {
    let _port = login_port().await;
    let team = Team::new("it-nb-open").await;
    let map = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(map.path(), "{}").unwrap();
    let portal = start_portal(common::LOGIN_PORT, |c| {
        c.notebooks.backend = "statefulset".into();
        c.notebooks.upstream_map_file = Some(map.path().to_path_buf());
        c.notebooks.cull_interval_seconds = 1;
    })
    .await;
    let nb = &portal.state.notebooks;
    // The pod would get its token from the Secret; JupyterLab refuses anyone without it.
    let (_lab, address) = served(nb, &team, "lab", map.path()).await;
    let direct = reqwest::get(format!("{address}/notebook/{}/lab/api/kernels", team.name)).await.unwrap();
    assert_eq!(direct.status(), 403, "JupyterLab itself wants the notebook's token");

    let base = portal.base.clone();
    let open = format!("{base}/notebook/{}/lab/lab", team.name);
    let origin = format!("http://{}--lab.localhost:{}", team.name, common::LOGIN_PORT);
    let lab = format!("{origin}/notebook/{}/lab", team.name);

    // Signed out: sent to sign in, never handed over.
    let (anon, _) = browser();
    let res = anon.get(&open).send().await.unwrap();
    assert!(res.status().is_redirection() && location(&res).starts_with("/auth/login"), "{}", res.status());
    // The notebook's origin itself wants its own cookie: API calls are refused,
    // page loads go back to the portal (which hands over again).
    assert_eq!(anon.get(format!("{lab}/api/status")).send().await.unwrap().status(), 401);
    let res = anon.get(format!("{lab}/lab")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(location(&res), open);

    // Maria (team B) is refused.
    let (maria, _) = browser();
    sign_in(&maria, &base, "maria", "/").await;
    let res = maria.get(&open).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(location(&res).is_empty());
    // Only notebooks that exist, by names Kubernetes could hold.
    let res = maria.get(format!("{base}/notebook/{}/x@169.254.169.254%23/api/status", team.name)).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // Paula may read every notebook, but running code in one is not hers to do.
    let (paula, _) = browser();
    sign_in(&paula, &base, "paula", "/").await;
    let res = paula.get(&open).send().await.unwrap();
    assert_eq!(res.status(), 403, "a platform admin cannot open a team's notebook");
    assert!(res.text().await.unwrap().contains("only its owner and the team"));

    // Alice is handed over to the notebook's own origin with a one-time ticket.
    let (alice, jar) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let res = alice.get(&open).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let hand_over = location(&res);
    assert!(hand_over.starts_with(&format!("{origin}/_atrium/hand-over?ticket=")), "{hand_over}");
    let res = alice.get(&hand_over).send().await.unwrap();
    assert_eq!(location(&res), format!("/notebook/{}/lab/lab", team.name));
    let res = alice.get(&hand_over).send().await.unwrap();
    assert_eq!(res.status(), 400, "a ticket works once");
    assert!(res.text().await.unwrap().contains("expired or was already used"));
    use reqwest::cookie::CookieStore;
    let sent = jar.cookies(&lab.parse().unwrap()).map(|h| h.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(sent.starts_with("atrium_notebook=") && !sent.contains("atrium_session"), "only the notebook's own cookie goes there: {sent}");

    // JupyterLab, with no second login; its own cookies never reach the browser.
    let res = alice.get(format!("{lab}/lab")).send().await.unwrap();
    let (status, cookie) = (res.status(), res.headers().get("set-cookie").cloned());
    let page = res.text().await.unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(cookie.is_none(), "upstream Set-Cookie is stripped");
    assert!(page.contains("JupyterLab"), "the JupyterLab page");
    let res = alice.get(&lab).send().await.unwrap();
    assert_eq!(location(&res), format!("/notebook/{}/lab/", team.name), "the bare path gains its slash");
    let res = alice.get(format!("{origin}/notebook/{}/other/api/status", team.name)).send().await.unwrap();
    assert_eq!(res.status(), 404, "an origin serves its own notebook only");

    // A kernel, started and spoken to over a WebSocket on the notebook's origin.
    let id = start_kernel(&alice, &lab, &origin).await;
    let ws_url = format!("ws://127.0.0.1:{}/notebook/{}/lab/api/kernels/{id}/channels", common::LOGIN_PORT, team.name);
    let websocket = |page_origin: &str| {
        let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url.as_str()).unwrap();
        req.headers_mut().insert("host", origin.trim_start_matches("http://").parse().unwrap());
        req.headers_mut().insert("cookie", sent.parse().unwrap());
        req.headers_mut().insert("origin", page_origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    for foreign in ["http://evil.example", base.as_str()] {
        let refused = websocket(foreign).await.expect_err("a WebSocket from another origin is refused");
        assert!(refused.to_string().contains("403"), "{refused}");
    }
    let (mut ws, _) = websocket(&origin).await.expect("websocket on the notebook's origin");
    let msg_id = "it-kernel-info";
    let request = serde_json::json!({
        "header": {"msg_id": msg_id, "username": "alice", "session": "it", "msg_type": "kernel_info_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"
    });
    ws.send(tokio_tungstenite::tungstenite::Message::text(request.to_string())).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Ok(text) = m.to_text()
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
                && v["msg_type"] == "kernel_info_reply"
                && v["parent_header"]["msg_id"] == msg_id
            {
                return v;
            }
        }
        panic!("websocket closed");
    })
    .await
    .expect("the kernel answers");
    assert_eq!(reply["content"]["language_info"]["name"], "python");
    drop(ws);

    // Signing out of the portal ends the notebook's origin too.
    let res = alice.post(format!("{base}/auth/logout")).header("origin", &base).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(alice.get(format!("{lab}/api/status")).send().await.unwrap().status(), 401);

    // Idle stop: the team allows 3 s; JupyterLab's last activity is older.
    let paula = common::as_user("paula").await;
    let idle = serde_json::json!({"metadata": {"annotations": {"atrium.io/stop-idle-after": "3s"}}});
    use kube::api::{Api, Patch, PatchParams};
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(paula.client());
    namespaces.patch(&team.name, &PatchParams::default(), &Patch::Merge(&idle)).await.unwrap();
    let stopped = wait_for(nb, &team.name, "lab", Some(Phase::Stopped)).await.unwrap();
    assert!(stopped.last_activity_ms.is_some(), "the activity Jupyter reported is shown");
    let filter = app::audit::AuditFilter { team: Some(team.name.clone()), limit: 100, ..Default::default() };
    let entries = portal.state.db.audit_list(&filter).await.unwrap();
    assert!(
        entries.iter().any(|e| e.actor == app::notebooks::live::CULLER && e.action == "notebook.stop" && e.team.as_deref() == Some(team.name.as_str())),
        "the idle stop is audited"
    );

    // It starts again cleanly, with its volume.
    let off = serde_json::json!({"metadata": {"annotations": {"atrium.io/stop-idle-after": null}}});
    namespaces.patch(&team.name, &PatchParams::default(), &Patch::Merge(&off)).await.unwrap();
    ops::set_running(&team.alice.client(), nb.backend(), &team.name, "lab", true).await.unwrap();
    let row = wait_for(nb, &team.name, "lab", Some(Phase::Running)).await.unwrap();
    assert_eq!(row.volume.as_deref(), Some("lab-workspace"));
    team.retire().await;
}
