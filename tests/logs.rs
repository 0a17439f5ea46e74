//! Structured logs an operator can follow: every line of a request carries
//! its request id (the load balancer's, or a fresh one the answer also
//! names), the person and the team. The real `atrium` binary's JSON logs.

mod common;

use common::{LOGIN_PORT, browser, login_port, sign_in, unique};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test]
async fn request_lines_carry_request_id_person_and_team() {
    let _port = login_port().await;
    let mut portal = common::Binary::start(
        LOGIN_PORT,
        // The request's own line (tower-http logs each answer at debug).
        &[("RUST_LOG", "info,tower_sessions=warn,sqlx=warn,tower_http=debug"), ("ATRIUM_SHUTDOWN_DRAIN_SECONDS", "0")],
        Stdio::piped(),
    )
    .await;
    let base = portal.base.clone();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let out = portal.child.stdout.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let (client, _jar) = browser();
    sign_in(&client, &base, "tom", "/").await;

    // The load balancer's id is kept, logged and answered.
    let id = unique("it-request");
    let call = |id: Option<&str>| {
        let req = client.post(format!("{base}/api/team-quota")).header("Origin", &base);
        let req = if let Some(id) = id { req.header("X-Request-Id", id) } else { req };
        req.header("Content-Type", "application/x-www-form-urlencoded").body("team=team-a").send()
    };
    let res = call(Some(&id)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], id.as_str());
    // Without one, the portal makes one up and says which.
    let res = call(None).await.unwrap();
    let fresh = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(fresh.len() >= 16 && fresh != id, "a fresh id: {fresh}");

    let found = |id: &str| -> Option<serde_json::Value> {
        lines.lock().unwrap().iter().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find(|v| v["span"]["request_id"] == id && v["message"] == "finished processing request")
    };
    let waited = Instant::now();
    let line = loop {
        if let (Some(line), Some(_)) = (found(&id), found(&fresh)) {
            break line;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "no log line carries the request id: {:?}",
            lines.lock().unwrap().iter().filter(|l| l.contains(&id)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(line["span"]["user"], "tom", "{line}");
    assert_eq!(line["span"]["team"], "team-a", "{line}");
    assert_eq!(line["span"]["path"], "/api/team-quota", "{line}");
}
