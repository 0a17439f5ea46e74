//! The fence around teams and around platform admins, against the real local
//! stack: Pod Security admission and the portal's admission policies
//! (`deploy/chart/atrium/templates/policies/`: `team-fence.yaml`,
//! `quota-ceiling.yaml`, `platform-admin-fence.yaml`) refuse; RBAC refuses
//! secrets. Every attempt that would do harm if the fence were missing is a
//! dry-run.

mod common;

use app::admin::server as admin;
use app::error::AppError;
use app::identity::Persona;
use app::platform::kube::explain;
use app::teams::members::SubjectKind;
use app::teams::members_server::binding_for;
use app::teams::quota::QuotaChange;
use app::teams::quota_server::{apply_changes, explain_quota, view};
use common::notebooks::Team;
use common::{as_user, cluster_admin, restricted_pod, unique};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod, ResourceQuota, Secret, Service};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use std::time::Duration;

fn dry_run() -> PostParams {
    PostParams { dry_run: true, ..Default::default() }
}

/// The message Kubernetes refused with (panics if it did not refuse).
fn refusal<T: std::fmt::Debug>(result: Result<T, kube::Error>, what: &str) -> String {
    match result {
        Err(kube::Error::Api(s)) => s.message,
        other => panic!("{what} should be refused by Kubernetes, got {other:?}"),
    }
}

/// Quota admission refuses pods until the controller-manager has counted a new quota.
async fn quota_counted(team: &str) {
    let quotas: Api<ResourceQuota> = Api::namespaced(cluster_admin().await, team);
    for _ in 0..100 {
        let q = quotas.get("atrium-quota").await.unwrap();
        if q.status.and_then(|s| s.hard).is_some_and(|h| !h.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the quota of {team} was never counted");
}

fn service(name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

#[tokio::test]
async fn every_team_namespace_enforces_pod_security_restricted() {
    let team = Team::new("it-fence-psa").await;
    let namespaces = Api::<Namespace>::all(cluster_admin().await);
    for name in [team.name.as_str(), "team-a", "team-b"] {
        let labels = namespaces.get(name).await.unwrap().metadata.labels.unwrap_or_default();
        for (key, value) in app::teams::POD_SECURITY_LABELS {
            assert_eq!(labels.get(key).map(String::as_str), Some(value), "{name}: {key}");
        }
    }

    // Even as a dry-run (which the pod fence allows), a privileged pod is refused.
    let mut privileged = restricted_pod("root");
    let spec = privileged.spec.as_mut().unwrap();
    spec.security_context = None;
    spec.containers[0].security_context =
        Some(serde_json::from_value(serde_json::json!({"privileged": true, "runAsUser": 0})).unwrap());
    let pods: Api<Pod> = Api::namespaced(team.alice.client(), &team.name);
    let message = refusal(pods.create(&dry_run(), &privileged).await, "alice's privileged pod");
    assert!(message.contains("violates PodSecurity \"restricted:latest\""), "{message}");
    let err = pods.create(&dry_run(), &privileged).await.unwrap_err();
    let explained = explain(err, "the pod “root”");
    assert!(matches!(&explained, AppError::Forbidden(m) if m.contains("Pod Security") && m.contains("privileged")), "{explained:?}");

    // The same in a demo team, straight from its bootstrap manifest.
    let pods: Api<Pod> = Api::namespaced(as_user("alice").await.client(), "team-a");
    let message = refusal(pods.create(&dry_run(), &privileged).await, "alice's privileged pod in team-a");
    assert!(message.contains("PodSecurity"), "{message}");
    team.retire().await;
}

#[tokio::test]
async fn people_only_dry_run_pods_and_controllers_make_them() {
    let team = Team::new("it-fence-pods").await;
    quota_counted(&team.name).await;
    let pods: Api<Pod> = Api::namespaced(team.alice.client(), &team.name);
    pods.create(&dry_run(), &restricted_pod("tried")).await.expect("alice may dry-run a compliant pod");
    let made = pods.create(&PostParams::default(), &restricted_pod("raw")).await;
    let message = refusal(made, "alice's real pod");
    assert!(message.contains("people may only dry-run a pod"), "{message}");
    let explained = explain(pods.create(&PostParams::default(), &restricted_pod("raw")).await.unwrap_err(), "the pod “raw”");
    assert!(matches!(&explained, AppError::Forbidden(m) if m.contains("dry-run")), "{explained:?}");

    // Her StatefulSet's pod is made by the controller-manager, which the fence lets through.
    let template = serde_json::to_value(restricted_pod("ignored")).unwrap();
    let set: StatefulSet = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "fenced"},
        "spec": {
            "replicas": 1, "serviceName": "fenced",
            "selector": {"matchLabels": {"app": "fenced"}},
            "template": {"metadata": {"labels": {"app": "fenced"}}, "spec": template["spec"]}
        }
    }))
    .unwrap();
    Api::<StatefulSet>::namespaced(team.alice.client(), &team.name).create(&PostParams::default(), &set).await.unwrap();
    let admin_pods: Api<Pod> = Api::namespaced(cluster_admin().await, &team.name);
    let mut made = false;
    for _ in 0..300 {
        if admin_pods.get_opt("fenced-0").await.unwrap().is_some() {
            made = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(made, "the StatefulSet controller makes the pod");
    team.retire().await;
}

#[tokio::test]
async fn people_delete_only_pipeline_step_pods() {
    // Two pods in team-a, made as a controller would: a pipeline step's and
    // a notebook's.
    let admin_pods: Api<Pod> = Api::namespaced(cluster_admin().await, "team-a");
    let mut step = restricted_pod(&unique("fence-step"));
    step.metadata.labels = Some([("workflows.argoproj.io/workflow".to_string(), "fence-run".to_string())].into());
    let notebook = restricted_pod(&unique("fence-notebook"));
    for pod in [&step, &notebook] {
        admin_pods.create(&PostParams::default(), pod).await.unwrap();
    }
    // dave (data engineer) may delete the step's pod (to retry a run), not the notebook's.
    let dave: Api<Pod> = Api::namespaced(as_user("dave").await.client(), "team-a");
    let dry = DeleteParams { dry_run: true, ..Default::default() };
    dave.delete(step.metadata.name.as_deref().unwrap(), &dry).await.expect("dave may delete a step's pod");
    let message = refusal(dave.delete(notebook.metadata.name.as_deref().unwrap(), &dry).await, "dave deleting a notebook's pod");
    assert!(message.contains("people may delete only a pipeline step's pod"), "{message}");
    // alice (data scientist) may delete neither (RBAC).
    let alice: Api<Pod> = Api::namespaced(as_user("alice").await.client(), "team-a");
    let err = alice.delete(step.metadata.name.as_deref().unwrap(), &dry).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref e) if e.code == 403), "{err:?}");
    for pod in [&step, &notebook] {
        admin_pods.delete(pod.metadata.name.as_deref().unwrap(), &DeleteParams::default()).await.unwrap();
    }
}

#[tokio::test]
async fn team_services_stay_inside_the_team() {
    let team = Team::new("it-fence-svc").await;
    let services: Api<Service> = Api::namespaced(team.alice.client(), &team.name);
    let port = serde_json::json!([{"port": 80}]);

    let external = service("elsewhere", serde_json::json!({"type": "ExternalName", "externalName": "portal.atrium.svc.cluster.local"}));
    let message = refusal(services.create(&PostParams::default(), &external).await, "an ExternalName Service");
    assert!(message.contains("only have ClusterIP Services, not ExternalName"), "{message}");
    let explained = explain(services.create(&PostParams::default(), &external).await.unwrap_err(), "the service “elsewhere”");
    assert!(matches!(&explained, AppError::Forbidden(m) if m.contains("ClusterIP")), "{explained:?}");

    let node_port = service("opened", serde_json::json!({"type": "NodePort", "ports": port, "selector": {"app": "x"}}));
    let message = refusal(services.create(&PostParams::default(), &node_port).await, "a NodePort Service");
    assert!(message.contains("not NodePort"), "{message}");
    let balancer = service("balanced", serde_json::json!({"type": "LoadBalancer", "ports": port, "selector": {"app": "x"}}));
    let message = refusal(services.create(&PostParams::default(), &balancer).await, "a LoadBalancer Service");
    assert!(message.contains("not LoadBalancer"), "{message}");
    let captured = service("captured", serde_json::json!({"ports": port, "externalIPs": ["203.0.113.7"]}));
    let message = refusal(services.create(&PostParams::default(), &captured).await, "a Service with externalIPs");
    assert!(message.contains("externalIPs"), "{message}");

    let inside = service("inside", serde_json::json!({"ports": port, "selector": {"app": "x"}}));
    services.create(&PostParams::default(), &inside).await.expect("a ClusterIP Service is fine");
    // Nor can the allowed one be turned into an ExternalName afterwards.
    let turn = serde_json::json!({"spec": {"type": "ExternalName", "externalName": "example.org"}});
    let message = refusal(services.patch("inside", &PatchParams::default(), &Patch::Merge(&turn)).await, "turning a Service external");
    assert!(message.contains("not ExternalName"), "{message}");
    team.retire().await;
}

#[tokio::test]
async fn the_ceiling_policy_refuses_dropping_a_limit_and_allows_edits_within_it() {
    let team = Team::new("it-fence-quota").await;
    let tom = as_user("tom").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(tom.client(), &team.name);
    // Without a limit, no ceiling would apply: unlimited GPUs.
    let mut without_gpu = quotas.get("atrium-quota").await.unwrap();
    without_gpu.spec.as_mut().unwrap().hard.as_mut().unwrap().remove("requests.nvidia.com/gpu");
    let message = refusal(quotas.replace("atrium-quota", &PostParams::default(), &without_gpu).await, "removing the GPU limit");
    assert!(message.contains("missing: requests.nvidia.com/gpu"), "{message}");
    let explained = explain_quota(quotas.replace("atrium-quota", &PostParams::default(), &without_gpu).await.unwrap_err());
    assert!(matches!(&explained, AppError::Forbidden(m) if m.contains("every resource with a ceiling")), "{explained:?}");

    let seen = view(&tom, &team.name).await.unwrap();
    let changes = vec![
        QuotaChange { resource: "requests.nvidia.com/gpu".into(), value: "4".into() },
        QuotaChange { resource: "pods".into(), value: "60".into() },
    ];
    apply_changes(&tom, &team.name, seen.limits_version.as_deref().unwrap(), &changes).await.expect("an edit within the ceiling");
    let after = view(&tom, &team.name).await.unwrap();
    let gpu = after.rows.iter().find(|r| r.resource == "requests.nvidia.com/gpu").unwrap();
    assert_eq!(gpu.hard.as_deref(), Some("4"));
    team.retire().await;
}

#[tokio::test]
async fn the_ceiling_policy_refuses_a_scoped_quota() {
    // Kubernetes itself refuses scopes that do not fit every limited resource,
    // and volumes fit no pod scope: this team has ceilings for pods, CPU,
    // memory and GPUs only, so a PriorityClass scope passes validation.
    let name = unique("it-fence-scope");
    let admin_client = cluster_admin().await;
    let labels = app::teams::namespace_labels();
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": labels, "annotations": {
            "ceiling.atrium.io/requests.cpu": "32", "ceiling.atrium.io/requests.memory": "128Gi",
            "ceiling.atrium.io/requests.nvidia.com_gpu": "4", "ceiling.atrium.io/pods": "80"
        }}
    }))
    .unwrap();
    Api::<Namespace>::all(admin_client.clone()).create(&PostParams::default(), &ns).await.unwrap();
    let team = Team { name: name.clone(), alice: as_user("alice").await }; // removes the namespace when dropped
    let quota: ResourceQuota = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "atrium-quota"},
        "spec": {"hard": {"requests.cpu": "16", "requests.memory": "64Gi", "requests.nvidia.com/gpu": "2", "pods": "40"}}
    }))
    .unwrap();
    Api::<ResourceQuota>::namespaced(admin_client.clone(), &name).create(&PostParams::default(), &quota).await.unwrap();
    let binding = binding_for(&name, SubjectKind::User, "tom", "oidc:tom", Persona::TeamAdmin);
    Api::<RoleBinding>::namespaced(admin_client.clone(), &name).create(&PostParams::default(), &binding).await.unwrap();

    let tom = as_user("tom").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(tom.client(), &name);
    // RBAC learns of the new binding from a watch: wait until tom may read the quota.
    for _ in 0..50 {
        if quotas.get("atrium-quota").await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Counts only pods of a PriorityClass nobody uses: every other pod is unlimited.
    let scoped = serde_json::json!({"spec": {"scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["it-nobody"]}
    ]}}});
    let message = refusal(quotas.patch("atrium-quota", &PatchParams::default(), &Patch::Merge(&scoped)).await, "a scopeSelector");
    assert!(message.contains("may not have scopes or a scopeSelector"), "{message}");
    let unchanged = quotas.get("atrium-quota").await.unwrap();
    assert!(unchanged.spec.unwrap().scope_selector.is_none());
    drop(team);
}

#[tokio::test]
async fn platform_admins_read_no_secret() {
    let team = Team::new("it-fence-secret").await;
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "s3", "labels": {"atrium.io/data-connection": "true"}},
        "stringData": {"AWS_SECRET_ACCESS_KEY": "it-secret-value"}
    }))
    .unwrap();
    Api::<Secret>::namespaced(team.alice.client(), &team.name).create(&PostParams::default(), &secret).await.unwrap();

    let paula = as_user("paula").await;
    for ns in [team.name.as_str(), "team-a"] {
        let secrets: Api<Secret> = Api::namespaced(paula.client(), ns);
        let listed = secrets.list(&ListParams::default()).await;
        assert!(matches!(&listed, Err(kube::Error::Api(s)) if s.code == 403), "paula lists secrets in {ns}: {listed:?}");
        let read = secrets.get("s3").await;
        assert!(matches!(&read, Err(kube::Error::Api(s)) if s.code == 403), "paula reads a secret in {ns}: {read:?}");
    }
    let everywhere = Api::<Secret>::all(paula.client()).list_metadata(&ListParams::default()).await;
    assert!(matches!(&everywhere, Err(kube::Error::Api(s)) if s.code == 403), "{everywhere:?}");

    // What retiring deletes is still counted, without secrets.
    let holdings = admin::holdings(&paula, &team.name).await.expect("paula counts what the team holds");
    assert!(holdings.iter().any(|(what, _)| what == "volumes"), "{holdings:?}");
    assert!(holdings.iter().all(|(what, _)| !what.contains("secret")), "{holdings:?}");
    team.retire().await;
}

#[tokio::test]
async fn platform_admins_write_only_in_team_namespaces() {
    let paula = as_user("paula").await;
    let binding = binding_for("kube-system", SubjectKind::User, "it-mallory", "oidc:it-mallory", Persona::DataScientist);
    let in_system = Api::<RoleBinding>::namespaced(paula.client(), "kube-system").create(&dry_run(), &binding).await;
    let message = refusal(in_system, "a RoleBinding in kube-system");
    assert!(message.contains("in team namespaces only"), "{message}");
    let explained = explain(
        Api::<RoleBinding>::namespaced(paula.client(), "kube-system").create(&dry_run(), &binding).await.unwrap_err(),
        "the member",
    );
    assert!(matches!(&explained, AppError::Forbidden(m) if m.contains("team namespaces")), "{explained:?}");

    let namespaces: Api<Namespace> = Api::all(paula.client());
    let gone = namespaces.delete("atrium", &DeleteParams { dry_run: true, ..Default::default() }).await;
    let message = refusal(gone, "deleting the portal's namespace");
    assert!(message.contains("team namespaces only"), "{message}");
    let relabel = serde_json::json!({"metadata": {"labels": {"atrium.io/team": "true"}}});
    let dry_patch = PatchParams { dry_run: true, ..Default::default() };
    let message = refusal(namespaces.patch("kube-system", &dry_patch, &Patch::Merge(&relabel)).await, "making kube-system a team");
    assert!(message.contains("team namespaces only"), "{message}");
    let plain: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": unique("it-plain")}})).unwrap();
    let message = refusal(namespaces.create(&dry_run(), &plain).await, "a namespace that is not a team");
    assert!(message.contains("must be a team"), "{message}");
    let loosen = serde_json::json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}});
    let message = refusal(namespaces.patch("team-a", &dry_patch, &Patch::Merge(&loosen)).await, "loosening Pod Security");
    assert!(message.contains("Pod Security enforce=restricted"), "{message}");
}

#[tokio::test]
async fn platform_admins_still_run_teams_end_to_end() {
    // Create (namespace, quota, limits, admin, network policy), fill, set a
    // ceiling, grant, count and retire: all as paula, through the portal's code.
    let team = Team::new("it-fence-admin").await;
    let paula = as_user("paula").await;
    admin::set_ceiling(&paula, &team.name, "pods", "90").await.expect("paula raises a ceiling");
    let request = app::teams::quota::QuotaRequest {
        id: 1,
        team: team.name.clone(),
        resource: "requests.nvidia.com/gpu".into(),
        amount: "6".into(),
        reason: "integration".into(),
        requested_by: "tom".into(),
        requested_at_ms: 0,
        status: "pending".into(),
        decided_by: None,
        decision_reason: None,
    };
    admin::grant(&paula, &request).await.expect("paula grants above the ceiling");
    let quota = view(&as_user("tom").await, &team.name).await.unwrap();
    let gpu = quota.rows.iter().find(|r| r.resource == "requests.nvidia.com/gpu").unwrap();
    assert_eq!((gpu.hard.as_deref(), gpu.ceiling.as_deref()), (Some("6"), Some("6")));
    admin::holdings(&paula, &team.name).await.expect("paula counts what the team holds");
    let name = team.name.clone();
    team.retire().await;
    let ns = Api::<Namespace>::all(cluster_admin().await).get_opt(&name).await.unwrap();
    assert!(ns.is_none_or(|n| n.metadata.deletion_timestamp.is_some()), "the team is going");
}
