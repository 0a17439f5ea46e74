//! Sign-in, sessions and the gates around them, through the in-process
//! portal, the real Keycloak and the real Kubernetes API.

mod common;

use common::{LOGIN_PORT, browser, location, login_port, session_cookie, sign_in, start_portal};

#[tokio::test]
async fn sign_in_rotates_the_session_and_returns_to_the_page_asked_for() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (client, jar) = browser();

    // Signed out: a private page sends the browser to sign in, remembering it.
    let res = client.get(format!("{}/teams/team-a", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/auth/login?next=/teams/team-a");

    let res = client.get(format!("{}/auth/login?next=/teams/team-a", portal.base)).send().await.unwrap();
    assert!(res.status().is_redirection());
    let before = session_cookie(&jar, &portal.base).expect("a pre-login session");

    let (_callback, res) = sign_in(&client, &portal.base, "alice", "/teams/team-a").await;
    assert_eq!(res.status(), 303, "callback redirects");
    assert_eq!(location(&res), "/teams/team-a");
    let after = session_cookie(&jar, &portal.base).expect("a session");
    assert_ne!(before, after, "the session id must change at sign-in");

    let res = client.get(format!("{}/teams/team-a", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("Team A"), "team page shows the team");
    assert!(html.contains("Data scientist"), "and alice's persona there");
}

#[tokio::test]
async fn replayed_or_tampered_callbacks_are_refused_and_store_nothing() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (client, _jar) = browser();
    let (callback, res) = sign_in(&client, &portal.base, "alice", "/").await;
    assert_eq!(res.status(), 303);

    // The same code and state again: the state was single-use.
    let (other, _) = browser();
    let res = other.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not valid"));
    let res = other.get(format!("{}/", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 303, "the replaying browser is not signed in");

    // A tampered state in a browser that did start a sign-in.
    let (client, _jar) = browser();
    client.get(format!("{}/auth/login", portal.base)).send().await.unwrap();
    let res = client.get(format!("{}/auth/callback?code=abc&state=forged", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("does not belong"));
    let res = client.get(format!("{}/", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 303, "nothing was stored");
}

#[tokio::test]
async fn browser_identity_headers_cannot_change_who_acts() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (client, _jar) = browser();
    sign_in(&client, &portal.base, "alice", "/").await;
    let res = client
        .get(format!("{}/teams/team-b", portal.base))
        .header("Impersonate-User", "paula")
        .header("Impersonate-Group", "platform-admins")
        .header("Authorization", "Bearer forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let html = res.text().await.unwrap();
    assert!(html.contains("You do not have access to this team."));
    assert!(!html.contains("Team B"), "no team B data in the page");
}

#[tokio::test]
async fn logout_ends_both_sessions() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (client, _jar) = browser();
    sign_in(&client, &portal.base, "tom", "/").await;
    let res = client.post(format!("{}/auth/logout", portal.base)).header("Origin", &portal.base).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(to.contains("/protocol/openid-connect/logout"), "RP-initiated logout: {to}");
    assert!(to.contains("id_token_hint="));
    assert!(to.contains("post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A3101%2Fsigned-out"));
    // Keycloak ends its session and sends the browser to the signed-out page.
    let res = client.get(&to).send().await.unwrap();
    assert_eq!(location(&res), format!("{}/signed-out", portal.base));
    let res = client.get(format!("{}/", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 303, "the portal session is gone");
}

#[tokio::test]
async fn state_changing_requests_must_come_from_our_pages() {
    let portal = start_portal(0, |_| {}).await;
    let (client, _jar) = browser();
    for origin in [Some("http://evil.example"), None] {
        let mut req = client.post(format!("{}/auth/logout", portal.base));
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 403, "origin {origin:?}");
    }
    // Server functions without a session answer 401 in the typed error format.
    let res = client.post(format!("{}/api/shell", portal.base)).header("Origin", &portal.base).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.text().await.unwrap(), "\"Unauthorized\"");
}

#[tokio::test]
async fn unreachable_identity_provider_is_explained_and_reported() {
    let portal = start_portal(0, |c| c.oidc.issuer_url = "http://localhost:1/realms/atrium".into()).await;
    let (client, _jar) = browser();
    let res = client.get(format!("{}/auth/login", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("identity provider cannot be reached"));
    // Reported, but the replica stays ready: signed-in people can go on.
    let res = client.get(format!("{}/readyz", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["identity_provider"], "unreachable");
    assert_eq!(body["checks"]["kubernetes"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn ready_when_everything_answers() {
    let portal = start_portal(0, |_| {}).await;
    let res = reqwest::get(format!("{}/readyz", portal.base)).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    let res = reqwest::get(format!("{}/healthz", portal.base)).await.unwrap();
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn unreachable_kubernetes_shows_a_banner_not_an_error() {
    let _port = login_port().await;
    let db = tempfile::tempdir().unwrap();
    let dead = db.path().join("dead.kubeconfig");
    let text = std::fs::read_to_string(common::stack("ATRIUM_KUBECONFIG")).unwrap();
    std::fs::write(&dead, text.replace("https://127.0.0.1:16443", "https://127.0.0.1:1")).unwrap();
    let portal = start_portal(LOGIN_PORT, |c| c.kubeconfig = Some(dead.clone())).await;
    let (client, _jar) = browser();
    sign_in(&client, &portal.base, "alice", "/").await;
    let res = client.get(format!("{}/", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("The Kubernetes API cannot be reached right now"), "banner shown");
    assert!(html.contains("Welcome, "), "the rest of the page still works");
    let body: serde_json::Value = reqwest::get(format!("{}/readyz", portal.base)).await.unwrap().json().await.unwrap();
    assert_eq!(body["checks"]["kubernetes"], "unreachable");
}
