//! The identity provider as it really behaves: unverified emails, rotated
//! signing keys and outages, through the in-process portal and the real
//! Keycloak of the local stack.

mod common;

use app::config::UsernameClaim;
use common::forwarder::Forwarder;
use common::keycloak::{KeycloakAdmin, key_id};
use common::{LOGIN_PORT, Portal, browser, login_port, session_cookie, sign_in, start_portal, unique};
use serde_json::Value;
use std::str::FromStr;
use std::time::{Duration, Instant};
use tower_sessions::session_store::SessionStore;

#[tokio::test]
async fn an_unverified_email_cannot_sign_in_when_it_is_the_username() {
    let name = unique("it-unverified");
    let _user = KeycloakAdmin::connect().await.throwaway_user(&name, false).await;
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |c| c.oidc.username_claim = UsernameClaim::Email).await;

    let (client, _jar) = browser();
    let (_, res) = sign_in(&client, &portal.base, &name, "/").await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("Your email address is not verified with the identity provider"), "{page}");
    let res = client.get(format!("{}/", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 303, "not signed in");

    let (client, jar) = browser();
    let (_, res) = sign_in(&client, &portal.base, "alice", "/").await;
    assert_eq!(res.status(), 303, "a verified email signs in");
    let user = stored_user(&portal, &jar).await.expect("a session");
    assert_eq!(user["identity"]["username"], "alice@atrium.example");
    assert_eq!(client.get(format!("{}/", portal.base)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn keycloak_key_rotation_keeps_sign_in_working_without_a_restart() {
    let _port = login_port().await;
    // Every request refreshes, so refreshed tokens are verified as well.
    let portal = start_portal(LOGIN_PORT, |c| c.oidc.refresh_margin_seconds = 1_000_000).await;
    let (earlier, earlier_jar) = browser();
    let (_, res) = sign_in(&earlier, &portal.base, "alice", "/").await;
    assert_eq!(res.status(), 303, "signed in with the keys the portal fetched first");

    // From now on Keycloak signs with a key the portal has never seen.
    let (_rotated, kid) = KeycloakAdmin::connect().await.rotate_signing_key().await;
    let (client, jar) = browser();
    let (_, res) = sign_in(&client, &portal.base, "maria", "/").await;
    let status = res.status();
    assert_eq!(status, 303, "sign-in after the rotation: {}", res.text().await.unwrap());
    let user = stored_user(&portal, &jar).await.expect("a session");
    assert_eq!(key_id(user["id_token"].as_str().unwrap()), kid, "verified with the new key");
    assert_eq!(client.get(format!("{}/", portal.base)).send().await.unwrap().status(), 200);

    // Rotated again: this time the new key first reaches the portal in a refresh.
    let (_rotated_again, kid) = KeycloakAdmin::connect().await.rotate_signing_key().await;
    let res = earlier.get(format!("{}/", portal.base)).send().await.unwrap();
    assert_eq!(res.status(), 200, "the session signed in before both rotations goes on");
    let user = stored_user(&portal, &earlier_jar).await.expect("a session");
    assert_eq!(key_id(user["id_token"].as_str().unwrap()), kid, "refreshed with the newest key");
}

/// Keycloak's token lifetime in the demo realm (`accessTokenLifespan`).
const TOKEN_SECONDS: i64 = 300;
const OUTAGE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn stopping_keycloak_for_60_s_keeps_signed_in_people_working_and_sign_in_works_after() {
    // Keycloak goes away for this portal only, so other tests keep theirs.
    let keycloak = url_socket(&common::stack("ATRIUM_OIDC__ISSUER_URL"));
    let forwarder = Forwarder::start(keycloak).await;
    let _port = login_port().await;
    let margin = TOKEN_SECONDS - 20;
    let portal = start_portal(LOGIN_PORT, |c| {
        c.oidc.provider_address = Some(forwarder.ip);
        c.oidc.refresh_margin_seconds = margin as u64;
    })
    .await;
    let (client, jar) = browser();
    let (_, res) = sign_in(&client, &portal.base, "alice", "/").await;
    assert_eq!(res.status(), 303);
    let expires_at = stored_user(&portal, &jar).await.expect("a session")["expires_at"].as_i64().unwrap();

    forwarder.cut();
    let cut_at = unix_now();
    let refresh_at = expires_at - margin;
    assert!(refresh_at > cut_at && refresh_at < cut_at + 45, "the tokens are due for refresh during the outage");
    let outage = Instant::now();
    while outage.elapsed() < OUTAGE {
        let res = client.get(format!("{}/teams/team-a", portal.base)).send().await.unwrap();
        assert_eq!(res.status(), 200, "a page {:?} into the outage", outage.elapsed());
        assert!(res.text().await.unwrap().contains("Team A"));
        let res = client
            .post(format!("{}/api/shell", portal.base))
            .header("Origin", &portal.base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "a server function {:?} into the outage", outage.elapsed());
        assert!(res.text().await.unwrap().contains("\"username\":\"alice\""));
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    assert!(forwarder.refused() > 0, "the portal tried to reach Keycloak during the outage");
    let user = stored_user(&portal, &jar).await.expect("the session is kept");
    assert_eq!(user["expires_at"], expires_at, "no new tokens while Keycloak was away");
    let res = reqwest::get(format!("{}/readyz", portal.base)).await.unwrap();
    assert_eq!(res.status(), 200, "still ready");
    let body: Value = res.json().await.unwrap();
    assert_eq!((body["status"].as_str(), body["checks"]["identity_provider"].as_str()), (Some("degraded"), Some("unreachable")));

    forwarder.restore();
    wait_until_the_portal_reaches_keycloak(&portal).await;
    assert_eq!(client.get(format!("{}/", portal.base)).send().await.unwrap().status(), 200);
    let user = stored_user(&portal, &jar).await.expect("the session is kept");
    assert!(user["expires_at"].as_i64().unwrap() > expires_at, "tokens refreshed once Keycloak is back");
    let (other, _jar) = browser();
    let (_, res) = sign_in(&other, &portal.base, "maria", "/").await;
    assert_eq!(res.status(), 303, "a new sign-in works again");
    assert_eq!(other.get(format!("{}/", portal.base)).send().await.unwrap().status(), 200);
}

/// What an operator watches: `/readyz` names the provider `ok` again.
async fn wait_until_the_portal_reaches_keycloak(portal: &Portal) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = reqwest::get(format!("{}/readyz", portal.base)).await.unwrap().json().await.unwrap();
        if body["checks"]["identity_provider"] == "ok" {
            return;
        }
        assert!(Instant::now() < deadline, "Keycloak still unreachable after the outage: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The signed-in person as the portal stored them for this browser.
async fn stored_user(portal: &Portal, jar: &reqwest::cookie::Jar) -> Option<Value> {
    let id = tower_sessions::session::Id::from_str(&session_cookie(jar, &portal.base)?).ok()?;
    let record = portal.state.sessions.load(&id).await.expect("the session store answers")?;
    record.data.get("atrium.user").cloned()
}

fn url_socket(url: &str) -> std::net::SocketAddr {
    let url = reqwest::Url::parse(url).expect("a URL");
    let port = url.port_or_known_default().expect("a port");
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
