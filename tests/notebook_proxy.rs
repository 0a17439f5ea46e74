//! Opening a notebook through the portal, and stopping idle ones, against a
//! real JupyterLab (PyPI) behind the portal's proxy, a real Keycloak sign-in
//! and the local stack. The stack's pods do not really run, so the
//! notebook's address comes from the portal's address map.

mod common;

use app::notebooks::model::Phase;
use app::notebooks::ops;
use common::notebooks::{Team, create, wait_for};
use common::{browser, location, login_port, sign_in, start_portal};
use futures::{SinkExt, StreamExt};
use std::process::{Child, Command};
use std::time::Duration;

/// JupyterLab serving one notebook's path; stopped when dropped.
struct Jupyter(Child);

impl Drop for Jupyter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn jupyter(team: &str, name: &str) -> (Jupyter, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/jupyter.sh");
    let child = Command::new("bash")
        .args([script, "serve", team, name, &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("JupyterLab starts");
    let guard = Jupyter(child);
    let address = format!("http://127.0.0.1:{port}");
    let status = format!("{address}/notebook/{team}/{name}/api/status");
    for _ in 0..300 {
        if reqwest::get(&status).await.is_ok_and(|r| r.status().is_success()) {
            return (guard, address);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("JupyterLab did not answer at {status}");
}

#[tokio::test]
async fn jupyterlab_through_the_portal_for_those_kubernetes_allows_then_stopped_when_idle() {
    let _port = login_port().await;
    let team = Team::new("it-nb-open").await;
    let (_lab, address) = jupyter(&team.name, "lab").await;
    let map = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(map.path(), serde_json::json!({ format!("{}/lab", team.name): address }).to_string()).unwrap();
    let portal = start_portal(common::LOGIN_PORT, |c| {
        c.notebooks.backend = "statefulset".into();
        c.notebooks.upstream_map_file = Some(map.path().to_path_buf());
        c.notebooks.cull_interval_seconds = 1;
    })
    .await;
    let nb = &portal.state.notebooks;
    nb.index.wait_synced(Duration::from_secs(10)).await;
    create(nb, &team.alice, &team.form("lab")).await.unwrap();
    wait_for(nb, &team.name, "lab", Some(Phase::Running)).await;
    let base = portal.base.clone();
    let lab = format!("{base}/notebook/{}/lab", team.name);

    // Signed out: sent to sign in, never proxied.
    let (anon, _) = browser();
    let res = anon.get(format!("{lab}/api/status")).send().await.unwrap();
    assert!(res.status().is_redirection() && location(&res).starts_with("/auth/login"), "{}", res.status());

    // Maria (team B) is refused by Kubernetes' answer to an access review.
    let (maria, _) = browser();
    sign_in(&maria, &base, "maria", "/").await;
    let res = maria.get(format!("{lab}/lab")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(!res.text().await.unwrap().contains("JupyterLab"));

    // Only notebooks that exist, by names Kubernetes could hold: the address is built from them.
    let res = maria.get(format!("{base}/notebook/{}/x@169.254.169.254%23/api/status", team.name)).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // Alice gets JupyterLab, with no second login.
    let (alice, jar) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let res = alice.get(format!("{lab}/lab")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("JupyterLab"), "the JupyterLab page");
    let res = alice.get(&lab).send().await.unwrap();
    assert_eq!(location(&res), format!("/notebook/{}/lab/", team.name), "the bare path gains its slash");
    let res = alice.get(format!("{base}/notebook/{}/no-such-notebook/api/status", team.name)).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // A kernel, started and spoken to over a WebSocket through the portal.
    use reqwest::cookie::CookieStore;
    // Jupyter's cookies belong to the notebook's path.
    let cookies = jar.cookies(&format!("{lab}/").parse().unwrap()).unwrap().to_str().unwrap().to_string();
    let xsrf = cookies.split("; ").find_map(|c| c.strip_prefix("_xsrf=")).expect("Jupyter's _xsrf cookie").to_string();
    let kernel: serde_json::Value = alice
        .post(format!("{lab}/api/kernels"))
        .header("origin", &base)
        .header("x-xsrftoken", &xsrf)
        .json(&serde_json::json!({"name": "python3"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = kernel["id"].as_str().expect("a kernel id");
    let ws_url = format!("ws://localhost:{}/notebook/{}/lab/api/kernels/{id}/channels", common::LOGIN_PORT, team.name);
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
    req.headers_mut().insert("cookie", cookies.parse().unwrap());
    req.headers_mut().insert("origin", base.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("websocket through the portal");
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
