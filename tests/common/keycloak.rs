//! The local stack's Keycloak through its admin REST API (the bootstrap
//! admin, `admin`/`admin`): throwaway users and signing keys, each removed
//! again when its guard drops, also when the test fails.

use super::{PASSWORD, stack, stack_ca};
use serde_json::{Value, json};

pub struct KeycloakAdmin {
    http: reqwest::Client,
    /// `https://localhost:18443/admin/realms/atrium`
    realm_url: String,
    bearer: String,
}

impl KeycloakAdmin {
    /// Signs the admin in (its tokens last a minute: connect per step).
    pub async fn connect() -> KeycloakAdmin {
        let issuer = stack("ATRIUM_OIDC__ISSUER_URL");
        let (keycloak, realm) = issuer.split_once("/realms/").expect("an issuer URL with a realm");
        let http = reqwest::Client::builder().add_root_certificate(stack_ca()).build().expect("client");
        let token: Value = http
            .post(format!("{keycloak}/realms/master/protocol/openid-connect/token"))
            .form(&[("grant_type", "password"), ("client_id", "admin-cli"), ("username", "admin"), ("password", "admin")])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("Keycloak's admin signs in")
            .json()
            .await
            .expect("a token response");
        let bearer = format!("Bearer {}", token["access_token"].as_str().expect("an admin token"));
        KeycloakAdmin { http, realm_url: format!("{keycloak}/admin/realms/{realm}"), bearer }
    }

    pub async fn get(&self, path: &str) -> Value {
        let res = self.http.get(format!("{}{path}", self.realm_url)).header("authorization", &self.bearer).send().await;
        let res = res.and_then(reqwest::Response::error_for_status).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        res.json().await.expect("JSON")
    }

    /// Creates an object; returns its id (from `Location`).
    async fn create(&self, path: &str, body: Value) -> String {
        let url = format!("{}{path}", self.realm_url);
        let res = self.http.post(&url).header("authorization", &self.bearer).json(&body).send().await.expect("Keycloak answers");
        assert_eq!(res.status(), 201, "POST {path}: {}", res.text().await.unwrap_or_default());
        let location = super::location(&res);
        location.rsplit('/').next().expect("an id").to_string()
    }

    /// POSTs `body`; the status, whatever it is.
    pub async fn post(&self, path: &str, body: Value) -> reqwest::StatusCode {
        let res = self.http.post(format!("{}{path}", self.realm_url)).header("authorization", &self.bearer).json(&body).send().await;
        res.map(|r| r.status()).unwrap_or(reqwest::StatusCode::BAD_GATEWAY)
    }

    /// The admin's own access token (realm `master`, client `admin-cli`).
    pub fn access_token(&self) -> &str {
        self.bearer.trim_start_matches("Bearer ")
    }

    pub async fn delete(&self, path: &str) -> reqwest::StatusCode {
        let res = self.http.delete(format!("{}{path}", self.realm_url)).header("authorization", &self.bearer).send().await;
        res.map(|r| r.status()).unwrap_or(reqwest::StatusCode::BAD_GATEWAY)
    }

    /// A user with the demo password, no groups, and an email address that
    /// Keycloak has or has not verified.
    pub async fn throwaway_user(&self, username: &str, email_verified: bool) -> Made {
        let user = json!({
            "username": username, "enabled": true, "firstName": "Throwaway", "lastName": "User",
            "email": format!("{username}@atrium.example"), "emailVerified": email_verified,
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": false}]
        });
        let id = self.create("/users", user).await;
        Made { path: format!("/users/{id}") }
    }

    /// Adds an RSA signing key above every key the realm has, so Keycloak
    /// signs new tokens with it: a key rotation. Returns it with its key id.
    pub async fn rotate_signing_key(&self) -> (Made, String) {
        let realm_id = self.get("").await["id"].as_str().expect("the realm's id").to_string();
        let providers = self.get("/components?type=org.keycloak.keys.KeyProvider").await;
        let highest = providers
            .as_array()
            .expect("key providers")
            .iter()
            .filter_map(|p| p["config"]["priority"][0].as_str()?.parse::<i64>().ok())
            .max()
            .unwrap_or(0);
        let name = super::unique("it-rotated");
        let provider = json!({
            "name": name, "providerId": "rsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": realm_id,
            "config": {"priority": [(highest + 10).to_string()], "enabled": ["true"], "active": ["true"],
                       "algorithm": ["RS256"], "keySize": ["2048"]}
        });
        let id = self.create("/components", provider).await;
        let made = Made { path: format!("/components/{id}") };
        let keys = self.get("/keys").await;
        let kid = keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["providerId"] == id.as_str())
            .and_then(|k| k["kid"].as_str())
            .expect("the new key is listed")
            .to_string();
        assert_eq!(keys["active"]["RS256"], kid.as_str(), "the new key signs from now on");
        (made, kid)
    }
}

/// Something made through the admin API; deleted when dropped.
pub struct Made {
    path: String,
}

impl Drop for Made {
    fn drop(&mut self) {
        let path = std::mem::take(&mut self.path);
        // NB: its own thread and runtime, as Drop cannot await and the
        // test's runtime may be shutting down.
        let deleted = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async { KeycloakAdmin::connect().await.delete(&path).await })
        })
        .join();
        if !matches!(&deleted, Ok(s) if s.is_success()) {
            eprintln!("could not delete a throwaway Keycloak object: {deleted:?}");
        }
    }
}

/// The key id (`kid`) in a JWT's header. NB: no signature check; only for
/// telling which key signed a token the portal has already verified.
pub fn key_id(jwt: &str) -> String {
    let header = jwt.split('.').next().expect("a JWT");
    let header: Value = serde_json::from_slice(&base64url(header)).expect("a JSON header");
    header["kid"].as_str().expect("a kid").to_string()
}

fn base64url(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        other => panic!("not base64url: {other}"),
    };
    let bits: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(value).collect();
    bits.chunks(4)
        .flat_map(|q| {
            let n = q.iter().enumerate().fold(0u32, |n, (i, &v)| n | u32::from(v) << (18 - 6 * i));
            let bytes = n.to_be_bytes();
            bytes[1..q.len()].to_vec()
        })
        .collect()
}
