//! The local stack's API server trusts Keycloak directly (structured
//! authentication with a JWT issuer): a person's own access token is
//! accepted as `oidc:<username>` with `oidc:`-prefixed groups, and tokens
//! that are not Keycloak's for the portal are refused. This is what token
//! passthrough (issue 9) stands on.

mod common;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, PostParams};

/// A client holding nothing but a bearer token (no client certificate).
async fn with_token(token: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(common::stack("STACK_ADMIN_KUBECONFIG")).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    config.auth_info = kube::config::AuthInfo { token: Some(token.to_string().into()), ..Default::default() };
    kube::Client::try_from(config).unwrap()
}

async fn who_am_i(client: kube::Client) -> Result<(String, Vec<String>), kube::Error> {
    let review = Api::<SelfSubjectReview>::all(client).create(&PostParams::default(), &SelfSubjectReview::default()).await?;
    let user = review.status.and_then(|s| s.user_info).unwrap_or_default();
    Ok((user.username.unwrap_or_default(), user.groups.unwrap_or_default()))
}

#[tokio::test]
async fn a_keycloak_access_token_is_a_prefixed_kubernetes_identity() {
    let token = common::access_token("alice").await;
    let (user, groups) = who_am_i(with_token(&token).await).await.expect("the API server accepts Keycloak's token");
    assert_eq!(user, "oidc:alice");
    assert!(groups.contains(&"oidc:team-a-data-scientists".to_string()), "{groups:?}");
    assert!(groups.contains(&"system:authenticated".to_string()), "{groups:?}");
}

#[tokio::test]
async fn tokens_not_meant_for_the_portal_or_tampered_with_are_refused() {
    let token = common::access_token("alice").await;
    // Change a character inside the signature (not the last one, whose low
    // bits are only base64 padding): the API server must verify it.
    let mut forged: Vec<char> = token.chars().collect();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == 'x' { 'Q' } else { 'x' };
    let forged: String = forged.into_iter().collect();
    let err = who_am_i(with_token(&forged).await).await.expect_err("a forged token is refused");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 401), "{err:?}");
    // A token of Keycloak's admin console (another audience, another realm).
    let admin = common::keycloak::KeycloakAdmin::connect().await;
    let err = who_am_i(with_token(admin.access_token()).await).await.expect_err("refused");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 401), "{err:?}");
}
