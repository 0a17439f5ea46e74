//! The portal's web surface, as an attacker on the network or on another
//! site would try it: redirects after sign-in, security headers, cookie
//! names, body sizes, request rates and CSV exports.

mod common;

use app::audit::server::{Action, audited};
use app::error::AppError;
use common::{LOGIN_PORT, browser, location, login_port, sign_in, start_portal};

/// Every header a portal response must carry.
fn assert_security_headers(res: &reqwest::Response) {
    let csp = res.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    for directive in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'", "form-action 'self'"] {
        assert!(csp.contains(directive), "{} lacks {directive}: {csp:?}", res.url());
    }
    assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{}", res.url());
    assert!(res.headers().contains_key("referrer-policy"), "{}", res.url());
}

#[tokio::test]
async fn a_10_mb_body_gets_413() {
    let portal = start_portal(0, |_| {}).await;
    let (client, _jar) = browser();
    let res = client
        .post(format!("{}/api/shell", portal.base))
        .header("Origin", &portal.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 10 << 20])
        .send()
        .await
        .expect("an answer, not a broken connection");
    assert_eq!(res.status(), 413);
    assert_security_headers(&res);
    // A small body still reaches the session gate.
    let res = client.post(format!("{}/api/shell", portal.base)).header("Origin", &portal.base).body("x=1").send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_no_hsts_over_http() {
    let portal = start_portal(0, |_| {}).await;
    let (client, _jar) = browser();
    for path in ["/", "/signed-out", "/healthz", "/auth/login", "/no-such-page"] {
        let res = client.get(format!("{}{path}", portal.base)).send().await.unwrap();
        assert_security_headers(&res);
        assert!(!res.headers().contains_key("strict-transport-security"), "{path}: HSTS over http");
    }
    let csp = reqwest::get(format!("{}/signed-out", portal.base)).await.unwrap().headers()["content-security-policy"].clone();
    let provider = common::stack("ATRIUM_OIDC__ISSUER_URL");
    let provider = provider.split("/realms/").next().unwrap();
    assert!(csp.to_str().unwrap().contains(&format!("form-action 'self' {provider}")), "sign-out may go to the provider: {csp:?}");
}

#[tokio::test]
async fn under_https_the_session_cookie_is_host_only_and_hsts_is_sent() {
    let portal = start_portal(0, |c| c.public_url = c.public_url.replace("http://", "https://")).await;
    let (client, _jar) = browser();
    let res = client.get(format!("{}/auth/login", portal.base)).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["strict-transport-security"], "max-age=31536000");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-atrium_session="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn next_with_a_tab_goes_home_after_sign_in() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (client, _jar) = browser();
    // `/%09/evil.example` arrives as "/\t/evil.example"; a browser would
    // drop the tab and follow `//evil.example`.
    let (_callback, res) = sign_in(&client, &portal.base, "alice", "/%09/evil.example").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let res = client.get(format!("{}/", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 200, "signed in");
    assert_security_headers(&res);
}

#[tokio::test]
async fn audit_csv_neutralises_formulas() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let action = Action { actor: "=HYPERLINK(\"http://evil.example\")", team: Some("team-a"), action: "member.add", object: "@SUM(1+1)" };
    let refused = audited(&portal.state.db, action, async { Err::<(), _>(AppError::Invalid("-2+3 cmd".into())) }).await;
    assert!(refused.is_err());
    let (client, _jar) = browser();
    sign_in(&client, &portal.base, "tom", "/").await;
    let res = client.get(format!("{}/export/audit.csv?team=team-a", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let row = csv.lines().nth(1).expect("the entry");
    assert!(row.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\")\",team-a,member.add,'@SUM(1+1),refused,'-2+3 cmd"), "{row}");
    for cell in row.split(',') {
        assert!(!cell.trim_start_matches('"').starts_with(['=', '+', '-', '@']), "formula cell {cell:?} in {row}");
    }
}

#[tokio::test]
async fn sign_in_starts_beyond_the_limit_get_429_per_address() {
    let portal = start_portal(0, |c| c.rate_limits.sign_ins_per_minute = 3).await;
    let (client, _jar) = browser();
    let login = || client.get(format!("{}/auth/login", portal.base));
    for i in 0..3 {
        assert!(login().send().await.unwrap().status().is_redirection(), "sign-in {i} allowed");
    }
    let res = login().send().await.unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "retry after {wait} s");
    assert!(res.text().await.unwrap().contains("Too many sign-in attempts"));
    // A client-chosen X-Forwarded-For is not believed by default.
    let res = login().header("X-Forwarded-For", "203.0.113.9").send().await.unwrap();
    assert_eq!(res.status(), 429);
    // The provider's returns are counted apart: a bad callback is still explained.
    let res = client.get(format!("{}/auth/callback?code=x&state=y", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn forwarded_addresses_count_when_the_proxy_is_trusted() {
    let portal = start_portal(0, |c| {
        c.rate_limits.sign_ins_per_minute = 1;
        c.trust_forwarded_headers = true;
    })
    .await;
    let (client, _jar) = browser();
    let login = |from: &str| client.get(format!("{}/auth/login", portal.base)).header("X-Forwarded-For", from.to_string());
    assert!(login("203.0.113.1").send().await.unwrap().status().is_redirection());
    assert_eq!(login("203.0.113.1").send().await.unwrap().status(), 429);
    assert!(login("203.0.113.2").send().await.unwrap().status().is_redirection(), "another client");
}

#[tokio::test]
async fn server_function_calls_beyond_the_limit_get_429_per_session() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |c| c.rate_limits.server_functions_per_minute = 2).await;
    let (client, _jar) = browser();
    sign_in(&client, &portal.base, "alice", "/").await;
    let call = |client: &reqwest::Client| {
        let req = client.post(format!("{}/api/shell", portal.base)).header("Origin", &portal.base);
        req.header("Content-Type", "application/x-www-form-urlencoded").send()
    };
    for i in 0..2 {
        assert_eq!(call(&client).await.unwrap().status(), 200, "call {i}");
    }
    let res = call(&client).await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.text().await.unwrap(), "\"TooManyRequests\"", "the typed error the page shows");
    // Pages still load, and another session has its own allowance.
    assert_eq!(client.get(format!("{}/", portal.base)).send().await.unwrap().status(), 200);
    let (other, _jar) = browser();
    sign_in(&other, &portal.base, "dave", "/").await;
    assert_eq!(call(&other).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_malformed_argument_gets_400_not_500() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (client, _jar) = browser();
    sign_in(&client, &portal.base, "tom", "/").await;
    // The quota form's call without the version it read and the changes.
    let res = client
        .post(format!("{}/api/team-quota-save", portal.base))
        .header("Origin", &portal.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("team=team-a")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a client fault, not ours");
    let error: AppError = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert!(matches!(&error, AppError::Malformed(m) if m.contains("limits_version")), "says what is missing: {error:?}");
}
