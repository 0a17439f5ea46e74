//! A replica told to stop (SIGTERM, as Kubernetes does) first drains: its
//! `/readyz` says so while it still serves people; then live streams end
//! cleanly so browsers reconnect elsewhere, and the process exits. The real
//! `atrium` binary on the local stack.

mod common;

use common::{LOGIN_PORT, browser, login_port, sign_in};
use futures::StreamExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DRAIN: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sigterm_drains_then_ends_streams_and_exits() {
    let _port = login_port().await;
    let drain = DRAIN.as_secs().to_string();
    let grace = GRACE.as_secs().to_string();
    let mut binary =
        common::Binary::start(LOGIN_PORT, &[("ATRIUM_SHUTDOWN_DRAIN_SECONDS", &drain), ("ATRIUM_SHUTDOWN_GRACE_SECONDS", &grace)], Stdio::null()).await;
    let base = binary.base.clone();
    let portal = &mut binary.child;
    let (client, _jar) = browser();
    sign_in(&client, &base, "alice", "/").await;

    // Alice watches her team's notebooks live.
    let stream = client.get(format!("{base}/api/notebooks/stream?team=team-a")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut body = stream.bytes_stream();
    let first = body.next().await.expect("the first event").unwrap();
    assert!(String::from_utf8_lossy(&first).contains("data:"), "a snapshot first");
    let reader = tokio::spawn(async move {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                return false;
            }
        }
        true
    });

    let term = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &portal.id().to_string()]).status().unwrap().success());

    // Draining: not ready any more, yet still serving the people already here.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = client.get(format!("{base}/readyz")).send().await.expect("still answering while draining");
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("draining"));
    assert_eq!(client.get(format!("{base}/")).send().await.unwrap().status(), 200, "pages still served");
    assert!(!reader.is_finished(), "the stream stays open while draining");

    // Stopping: the stream ends cleanly (the browser's EventSource reconnects elsewhere) ...
    let clean = tokio::time::timeout(DRAIN + Duration::from_secs(3), reader).await.expect("the stream ended").unwrap();
    assert!(clean, "ended, not broken");
    assert!(term.elapsed() >= DRAIN - Duration::from_millis(200), "not before the drain was over");

    // ... and the process exits well within its grace.
    let exited = Instant::now();
    let status = loop {
        if let Some(status) = portal.try_wait().unwrap() {
            break status;
        }
        assert!(exited.elapsed() < GRACE, "the portal did not exit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "a clean exit: {status:?}");
    assert!(client.get(format!("{base}/readyz")).send().await.is_err(), "no longer listening");
}
