//! Teams, members and quotas against the real local stack: Kubernetes RBAC,
//! ResourceQuota admission and the ceiling policy decide; the portal reports.

mod common;

use app::admin::server as admin;
use app::error::AppError;
use app::identity::Persona;
use app::teams::members::SubjectKind;
use app::teams::members_server::{list, set_personas};
use app::teams::quota::{QuotaChange, QuotaRequest};
use app::teams::quota_server::{apply_changes, view};
use k8s_openapi::api::core::v1::{Namespace, Pod, ResourceQuota};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use std::time::Duration;

use common::{as_user, cluster_admin, unique};

/// Team namespaces enforce Pod Security `restricted`.
fn pod(name: &str) -> Pod {
    common::restricted_pod(name)
}

/// Waits until the controller-manager has counted what the quota covers.
async fn quota_settled(admin: &kube::Client, team: &str, pods: &str) {
    let api: Api<ResourceQuota> = Api::namespaced(admin.clone(), team);
    for _ in 0..100 {
        let q = api.get("atrium-quota").await.unwrap();
        let status = q.status.unwrap_or_default();
        let hard_pods = status.hard.as_ref().and_then(|h| h.get("pods")).map(|q| q.0.clone());
        let used = status.used.as_ref().and_then(|u| u.get("pods")).map(|q| q.0.clone());
        let spec_pods = q.spec.and_then(|s| s.hard).and_then(|h| h.get("pods").cloned()).map(|q| q.0);
        if used.as_deref() == Some(pods) && hard_pods.is_some() && hard_pods == spec_pods {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("quota of {team} did not settle at {pods} pods");
}

#[tokio::test]
async fn a_team_at_its_pod_quota_gets_more_after_an_approved_request() {
    let team = unique("it-pods");
    let paula = as_user("paula").await;
    admin::create_team(&paula, &team, "Integration pods", "tom").await.expect("platform admin creates a team");
    let admin_client = cluster_admin().await;
    let tom = as_user("tom").await;
    quota_settled(&admin_client, &team, "0").await;
    let seen = view(&tom, &team).await.unwrap();
    let changes = vec![QuotaChange { resource: "pods".into(), value: "1".into() }];
    apply_changes(&tom, &team, seen.limits_version.as_deref().unwrap(), &changes).await.expect("team admin lowers pods to 1");
    quota_settled(&admin_client, &team, "0").await;

    let pods: Api<Pod> = Api::namespaced(admin_client.clone(), &team);
    pods.create(&PostParams::default(), &pod("first")).await.expect("first pod fits");
    quota_settled(&admin_client, &team, "1").await;
    let refused = pods.create(&PostParams::default(), &pod("second")).await.expect_err("quota admission refuses");
    let explained = app::platform::kube::explain(refused, "a pod");
    assert!(matches!(&explained, AppError::QuotaExceeded(m) if m.contains("Pods: asked 1, 0 left of 1")), "{explained:?}");

    // Above the ceiling (80): granting raises the ceiling, then the limit.
    let request = QuotaRequest {
        id: 1,
        team: team.clone(),
        resource: "pods".into(),
        amount: "90".into(),
        reason: "integration".into(),
        requested_by: "tom".into(),
        requested_at_ms: 0,
        status: "pending".into(),
        decided_by: None,
        decision_reason: None,
    };
    admin::grant(&paula, &request).await.expect("approval applies");
    let after = view(&tom, &team).await.unwrap();
    let row = after.rows.iter().find(|r| r.resource == "pods").unwrap();
    assert_eq!(row.hard.as_deref(), Some("90"));
    assert_eq!(row.ceiling.as_deref(), Some("90"));
    quota_settled(&admin_client, &team, "1").await;
    pods.create(&PostParams::default(), &pod("second")).await.expect("fits after the increase");

    admin::retire_team(&paula, &team, &team).await.expect("retired");
}

#[tokio::test]
async fn team_admins_manage_only_their_team_and_others_cannot_at_all() {
    let (tom, alice) = (as_user("tom").await, as_user("alice").await);
    let theirs = view(&tom, "team-b").await;
    assert!(matches!(theirs, Err(AppError::Forbidden(_))), "tom cannot read team-b's quota: {theirs:?}");
    let err = set_personas(&tom, "team-b", SubjectKind::User, "alice", &[Persona::DataScientist]).await.unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err:?}");

    let seen = view(&alice, "team-a").await.expect("alice may read her team's quota");
    let changes = vec![QuotaChange { resource: "pods".into(), value: "41".into() }];
    let err = apply_changes(&alice, "team-a", seen.limits_version.as_deref().unwrap(), &changes).await.unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "data scientist changing quota: {err:?}");
    let err = set_personas(&alice, "team-a", SubjectKind::User, "alice", &[Persona::TeamAdmin]).await.unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "data scientist changing members: {err:?}");
}

#[tokio::test]
async fn kubernetes_refuses_escalation_and_the_ceiling() {
    let tom = as_user("tom").await;
    let err = set_personas(&tom, "team-a", SubjectKind::User, "it-mallory", &[Persona::PlatformAdmin]).await.unwrap_err();
    assert!(
        matches!(&err, AppError::Forbidden(m) if m.contains("you can only grant permissions you hold yourself")),
        "{err:?}"
    );
    assert!(list(&tom, "team-a").await.unwrap().iter().all(|m| m.name != "it-mallory"), "nothing was created");

    // Straight to the API, past the portal's own check: the policy refuses.
    let quotas: Api<ResourceQuota> = Api::namespaced(tom.client(), "team-a");
    let patch = serde_json::json!({"spec": {"hard": {"requests.nvidia.com/gpu": "64"}}});
    let err = quotas.patch("atrium-quota", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap_err();
    let explained = app::teams::quota_server::explain_quota(err);
    assert!(matches!(&explained, AppError::Forbidden(m) if m.contains("ceiling")), "{explained:?}");
}

#[tokio::test]
async fn members_are_added_changed_and_the_last_admin_stays() {
    let team = unique("it-members");
    let paula = as_user("paula").await;
    admin::create_team(&paula, &team, "Integration members", "tom").await.unwrap();
    let tom = as_user("tom").await;
    set_personas(&tom, &team, SubjectKind::User, "alice", &[Persona::DataScientist, Persona::MlEngineer]).await.unwrap();
    set_personas(&tom, &team, SubjectKind::Group, "it-readers", &[Persona::DataEngineer]).await.unwrap();
    let members = list(&tom, &team).await.unwrap();
    let alice = members.iter().find(|m| m.name == "alice").unwrap();
    assert_eq!(alice.personas, vec![Persona::DataScientist, Persona::MlEngineer]);
    // Alice can now read the new team as herself.
    assert!(Api::<Namespace>::all(as_user("alice").await.client()).get(&team).await.is_ok());

    set_personas(&tom, &team, SubjectKind::User, "alice", &[Persona::MlEngineer]).await.unwrap();
    let members = list(&tom, &team).await.unwrap();
    assert_eq!(members.iter().find(|m| m.name == "alice").unwrap().personas, vec![Persona::MlEngineer]);

    let err = set_personas(&tom, &team, SubjectKind::User, "tom", &[]).await.unwrap_err();
    assert!(matches!(&err, AppError::Invalid(m) if m.contains("at least one team admin")), "{err:?}");
    set_personas(&tom, &team, SubjectKind::User, "alice", &[]).await.unwrap();
    assert!(list(&tom, &team).await.unwrap().iter().all(|m| m.name != "alice"));
    admin::retire_team(&paula, &team, &team).await.unwrap();
}

#[tokio::test]
async fn concurrent_quota_edits_never_lose_a_writer_silently() {
    let tom = as_user("tom").await;
    let seen = view(&tom, "team-a").await.unwrap();
    let rv = seen.limits_version.clone().unwrap();
    let current = seen.rows.iter().find(|r| r.resource == "persistentvolumeclaims").unwrap().hard.clone().unwrap();
    let next = if current == "20" { "21" } else { "20" };
    let a = vec![QuotaChange { resource: "persistentvolumeclaims".into(), value: next.into() }];
    let b = vec![QuotaChange { resource: "persistentvolumeclaims".into(), value: "25".into() }];
    let (ra, rb) = tokio::join!(apply_changes(&tom, "team-a", &rv, &a), apply_changes(&tom, "team-a", &rv, &b));
    let (ok, conflict) = match (&ra, &rb) {
        (Ok(()), Err(e)) | (Err(e), Ok(())) => (true, e.clone()),
        other => panic!("exactly one writer must win: {other:?}"),
    };
    assert!(ok);
    let AppError::Conflict(message) = conflict else { panic!("the loser is told of the conflict: {conflict:?}") };
    assert!(message.contains("now ") && message.contains("yours "), "both values shown: {message}");
    // Put it back for other tests.
    let again = view(&tom, "team-a").await.unwrap();
    let back = vec![QuotaChange { resource: "persistentvolumeclaims".into(), value: "20".into() }];
    apply_changes(&tom, "team-a", again.limits_version.as_deref().unwrap(), &back).await.unwrap();
}

#[tokio::test]
async fn a_usage_recount_while_editing_is_not_someone_elses_edit() {
    // Kubernetes rewrites a quota's status whenever usage changes, which moves its
    // resourceVersion. A team admin who saves limits read before that recount has
    // not lost a race with anyone and must not be told so.
    let team = unique("it-recount");
    let paula = as_user("paula").await;
    admin::create_team(&paula, &team, "Integration recount", "tom").await.unwrap();
    let admin_client = cluster_admin().await;
    quota_settled(&admin_client, &team, "0").await;
    let tom = as_user("tom").await;
    let seen = view(&tom, &team).await.unwrap();

    let quotas: Api<ResourceQuota> = Api::namespaced(admin_client.clone(), &team);
    let before = quotas.get("atrium-quota").await.unwrap().metadata.resource_version;
    let recount = serde_json::json!({ "status": { "used": { "pods": "0", "configmaps": "7" } } });
    quotas.patch_status("atrium-quota", &PatchParams::default(), &Patch::Merge(&recount)).await.unwrap();
    let after = quotas.get("atrium-quota").await.unwrap().metadata.resource_version;
    assert_ne!(before, after, "the recount moved the resourceVersion");

    let changes = vec![QuotaChange { resource: "pods".into(), value: "3".into() }];
    apply_changes(&tom, &team, seen.limits_version.as_deref().unwrap(), &changes).await.expect("the save goes through");
    let now = view(&tom, &team).await.unwrap();
    let pods = now.rows.iter().find(|r| r.resource == "pods").unwrap();
    assert_eq!(pods.hard.as_deref(), Some("3"));
    admin::retire_team(&paula, &team, &team).await.unwrap();
}

#[tokio::test]
async fn a_refused_part_of_creating_a_team_leaves_nothing_behind() {
    // A user who may create namespaces but nothing inside them.
    let admin_client = cluster_admin().await;
    let user = unique("it-halfadmin");
    let role = ClusterRole {
        metadata: ObjectMeta { name: Some(user.clone()), ..Default::default() },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["namespaces".into()]),
            verbs: vec!["create".into(), "get".into(), "delete".into()],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta { name: Some(user.clone()), ..Default::default() },
        role_ref: RoleRef { api_group: Some("rbac.authorization.k8s.io".into()), kind: "ClusterRole".into(), name: user.clone() },
        // People are known to Kubernetes with the identity provider's prefix.
        subjects: Some(vec![Subject { kind: "User".into(), name: format!("oidc:{user}"), api_group: Some("rbac.authorization.k8s.io".into()), namespace: None }]),
    };
    Api::<ClusterRole>::all(admin_client.clone()).create(&PostParams::default(), &role).await.unwrap();
    Api::<ClusterRoleBinding>::all(admin_client.clone()).create(&PostParams::default(), &binding).await.unwrap();

    let team = unique("it-half");
    let err = admin::create_team(&as_user(&user).await, &team, "Half", "tom").await.unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err:?}");
    let ns = Api::<Namespace>::all(admin_client.clone()).get_opt(&team).await.unwrap();
    let gone = ns.is_none_or(|n| n.metadata.deletion_timestamp.is_some());
    assert!(gone, "the half-made namespace is removed");

    Api::<ClusterRoleBinding>::all(admin_client.clone()).delete(&user, &DeleteParams::default()).await.unwrap();
    Api::<ClusterRole>::all(admin_client).delete(&user, &DeleteParams::default()).await.unwrap();
}

/// A team's Members and Audit tabs (and the audit's CSV export) are offered
/// to those Kubernetes lets open them, and the answers agree with the pages.
#[tokio::test]
async fn members_and_audit_are_offered_only_to_those_who_may_open_them() {
    use app::platform::access::AccessCache;
    let cache = AccessCache::new(Duration::from_secs(30));
    let cases = [
        ("alice", "team-a", false),
        ("dave", "team-a", false),
        ("maria", "team-b", false),
        ("tom", "team-a", true),
        ("paula", "team-a", true),
    ];
    for (user, team, expected) in cases {
        let client = as_user(user).await;
        let access = app::teams::server::access(&cache, &client, user, team).await.expect("asked");
        assert_eq!((access.members, access.audit), (expected, expected), "{user} in {team}");
        assert_eq!(list(&client, team).await.is_ok(), access.members, "{user}: the members page agrees");
        let audit = app::audit::server::may_read(&client, Some(team)).await;
        assert_eq!(audit.is_ok(), access.audit, "{user}: the audit trail agrees");
    }
}
