//! The Kubernetes gateway against the real local stack: every call is made
//! as the person, and Kubernetes RBAC decides.

mod common;

use app::access::NavArea;
use app::error::AppError;
use app::platform::access::{AccessCache, may};
use app::platform::kube::{KubeGateway, UserClient, explain};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams};
use std::time::Duration;

async fn gateway() -> KubeGateway {
    let db = tempfile::tempdir().unwrap();
    KubeGateway::new(&common::config(0, &db)).await.expect("gateway")
}

async fn as_user(user: &str) -> UserClient {
    common::as_user(user).await
}

#[tokio::test]
async fn data_scientist_reads_own_team_and_is_refused_the_other() {
    let alice = as_user("alice").await;
    let namespaces: Api<Namespace> = Api::all(alice.client());
    let team_a = namespaces.get("team-a").await.expect("alice reads team-a");
    assert_eq!(team_a.metadata.name.as_deref(), Some("team-a"));
    let refused = namespaces.get("team-b").await.expect_err("team-b must be refused");
    assert!(matches!(explain(refused, "team “team-b”"), AppError::Forbidden(m) if m.contains("team-b")));
}

#[tokio::test]
async fn team_list_follows_rbac_not_just_groups() {
    let alice = common::person("alice").await;
    let client = gateway().await.for_user(&alice).unwrap();
    let teams = app::teams::server::list_teams(&client, &alice.identity().memberships, &[]).await.unwrap();
    let names: Vec<_> = teams.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["team-a"]);
    assert_eq!(teams[0].display_name, "Team A");

    // A group naming a team Kubernetes does not grant shows no team.
    let mut forged = alice.identity().memberships.clone();
    forged.teams.insert("team-b".into(), vec![app::identity::Persona::DataScientist]);
    let teams = app::teams::server::list_teams(&client, &forged, &[]).await.unwrap();
    assert_eq!(teams.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["team-a"]);

    let paula = common::person("paula").await;
    let client = gateway().await.for_user(&paula).unwrap();
    let teams = app::teams::server::list_teams(&client, &paula.identity().memberships, &[]).await.unwrap();
    let names: Vec<_> = teams.iter().map(|t| t.name.as_str()).collect();
    // Other tests create teams of their own meanwhile; both demo teams are listed.
    assert!(names.contains(&"team-a") && names.contains(&"team-b"), "{names:?}");
}

#[tokio::test]
async fn access_reviews_differ_by_persona() {
    let (alice, dave, maria) = (as_user("alice").await, as_user("dave").await, as_user("maria").await);
    assert!(may(&alice, "apps", "statefulsets", "create", Some("team-a")).await.unwrap());
    assert!(!may(&dave, "apps", "statefulsets", "create", Some("team-a")).await.unwrap());
    assert!(may(&dave, "argoproj.io", "workflows", "create", Some("team-a")).await.unwrap());
    assert!(!may(&alice, "argoproj.io", "workflows", "create", Some("team-a")).await.unwrap());
    assert!(may(&maria, "serving.kserve.io", "inferenceservices", "create", Some("team-b")).await.unwrap());
    assert!(!may(&maria, "serving.kserve.io", "inferenceservices", "create", Some("team-a")).await.unwrap());
}

#[tokio::test]
async fn navigation_is_what_kubernetes_allows_each_persona() {
    let gw = gateway().await;
    let cache = AccessCache::new(Duration::from_secs(30));
    let expect = [
        ("alice", vec![NavArea::Notebooks, NavArea::Experiments]),
        ("dave", vec![NavArea::Pipelines]),
        ("maria", vec![NavArea::Experiments, NavArea::Models]),
        ("tom", vec![NavArea::Models, NavArea::Team]),
        ("paula", vec![NavArea::Team, NavArea::Admin]),
    ];
    for (user, areas) in expect {
        let who = common::person(user).await;
        let client = gw.for_user(&who).unwrap();
        let mut scope: Vec<String> = who.identity().memberships.teams.keys().cloned().collect();
        if scope.is_empty() {
            scope.push("default".into());
        }
        let got = cache.nav_areas(&client, who.session_key(), &scope).await.unwrap();
        assert_eq!(got, areas, "navigation of {user}");
    }
}

#[tokio::test]
async fn system_groups_in_a_token_are_never_impersonated() {
    // Impersonation only: under passthrough the API server reads the groups from the signed token.
    let db = tempfile::tempdir().unwrap();
    let mut cfg = common::config(0, &db);
    cfg.kubernetes.identity = app::config::KubeIdentity::Impersonation;
    cfg.kubeconfig = Some(common::stack("STACK_IMPERSONATING_KUBECONFIG").into());
    let gw = KubeGateway::new(&cfg).await.unwrap();
    let client = gw
        .for_test_user("mallory", &["system:masters".into(), "team-a-data-scientists".into()])
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.client(), "kube-system");
    let refused = secrets.list(&ListParams::default()).await.expect_err("system:masters must be dropped");
    assert!(matches!(explain(refused, "secrets"), AppError::Forbidden(_)));
    assert!(gw.for_test_user("system:admin", &[]).is_err(), "system users are refused outright");
}

#[tokio::test]
async fn the_portal_identity_alone_reads_no_team() {
    // The portal's kubeconfig identity, without impersonation, reads no team.
    let kubeconfig = common::stack("ATRIUM_KUBECONFIG");
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    let portal = kube::Client::try_from(cfg).unwrap();
    let err = Api::<Namespace>::all(portal).get("team-a").await.expect_err("portal must not read teams");
    assert!(matches!(err, kube::Error::Api(s) if s.code == 403));
}

/// The portal's own identity as the stack's kubeconfig gives it.
async fn portal_identity() -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(common::stack("ATRIUM_KUBECONFIG")).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    kube::Client::try_from(cfg).unwrap()
}

#[tokio::test]
async fn with_token_passthrough_the_portal_may_impersonate_no_one() {
    use k8s_openapi::api::authorization::v1::{SelfSubjectRulesReview, SelfSubjectRulesReviewSpec};
    use kube::api::PostParams;
    // What the API server says the portal's identity may do, in a team and cluster-wide.
    for namespace in ["team-a", "default"] {
        let review = SelfSubjectRulesReview {
            spec: SelfSubjectRulesReviewSpec { namespace: Some(namespace.into()) },
            ..Default::default()
        };
        let answer = Api::<SelfSubjectRulesReview>::all(portal_identity().await).create(&PostParams::default(), &review).await.unwrap();
        let rules = answer.status.unwrap().resource_rules;
        assert!(!rules.is_empty(), "the portal has rules of its own (watches)");
        let impersonate: Vec<_> = rules.iter().filter(|r| r.verbs.iter().any(|v| v == "impersonate" || v == "*")).collect();
        assert!(impersonate.is_empty(), "the portal may impersonate in {namespace}: {impersonate:?}");
    }
    // And an attempt to act as a cluster administrator is refused.
    let kc = kube::config::Kubeconfig::read_from(common::stack("ATRIUM_KUBECONFIG")).unwrap();
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    cfg.auth_info.impersonate = Some("it-mallory".into());
    cfg.auth_info.impersonate_groups = Some(vec!["system:masters".into()]);
    let mallory = kube::Client::try_from(cfg).unwrap();
    let err = Api::<Secret>::namespaced(mallory, "kube-system").list(&ListParams::default()).await.expect_err("refused");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 403 && s.message.contains("impersonate")), "{err:?}");
}

#[tokio::test]
async fn unreachable_kubernetes_is_a_sentence_not_a_panic() {
    let db = tempfile::tempdir().unwrap();
    let mut cfg = common::config(0, &db);
    let text = std::fs::read_to_string(cfg.kubeconfig.as_ref().unwrap()).unwrap();
    let dead = db.path().join("dead.kubeconfig");
    std::fs::write(&dead, text.replace(&format!("127.0.0.1:{}", kube_port(&text)), "127.0.0.1:1")).unwrap();
    cfg.kubeconfig = Some(dead);
    let gw = KubeGateway::new(&cfg).await.unwrap();
    assert!(gw.ready().await.is_err());
    let client = gw.for_user(&common::person("alice").await).unwrap();
    let err = Api::<Namespace>::all(client.client()).get("team-a").await.unwrap_err();
    assert_eq!(explain(err, "team-a"), AppError::KubernetesUnavailable);
}

fn kube_port(kubeconfig: &str) -> String {
    let server = kubeconfig.lines().find_map(|l| l.trim().strip_prefix("server: ")).unwrap();
    server.rsplit(':').next().unwrap().to_string()
}
