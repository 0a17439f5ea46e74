//! What an operator's Prometheus reads from `/metrics` after people used
//! the portal: request latency per route (never per raw path), Kubernetes
//! calls by verb, resource and status, the database pool and the sessions.

mod common;

use common::{LOGIN_PORT, browser, login_port, sign_in, start_portal};

/// The value of the sample named exactly `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_say_what_people_did_by_route_and_by_kubernetes_call() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let base = portal.base.clone();
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;
    for _ in 0..3 {
        let res = tom.get(format!("{base}/teams/team-a")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let res = tom
            .post(format!("{base}/api/team-quota"))
            .header("Origin", &base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("team=team-a")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = res.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "one well-formed exposition");

    // Requests by the route's pattern: the team's name makes no series.
    let page = sample(&text, "atrium_http_request_duration_seconds_count{method=\"GET\",route=\"/teams/{team}\",status=\"200\"}");
    assert!(page.is_some_and(|n| n >= 3.0), "the team page, three times: {text}");
    let call = sample(&text, "atrium_http_request_duration_seconds_count{method=\"POST\",route=\"/api/team-quota\",status=\"200\"}");
    assert!(call.is_some_and(|n| n >= 3.0), "the server function, three times: {text}");
    assert!(!text.contains("route=\"/teams/team-a\""), "no raw paths as labels");

    // Kubernetes calls by verb, resource and status, as tom made them.
    let quota_reads: f64 = text
        .lines()
        .filter(|l| l.starts_with("atrium_kubernetes_requests_total{") && l.contains("resource=\"resourcequotas\"") && l.contains("code=\"200\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(quota_reads >= 3.0, "the team's quota read for each view: {text}");
    assert!(text.contains("atrium_kubernetes_request_duration_seconds_bucket{"), "with their latency");
    // The totals benches read, the pool, and tom's session.
    assert!(sample(&text, "atrium_kubernetes_calls_total").is_some_and(|n| n >= 3.0), "{text}");
    assert!(sample(&text, "atrium_db_connections_max").is_some_and(|n| n >= 1.0), "{text}");
    assert!(sample(&text, "atrium_active_sessions").is_some_and(|n| n >= 1.0), "tom is signed in: {text}");
}
