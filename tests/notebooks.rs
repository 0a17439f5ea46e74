//! Notebooks on StatefulSets against the real local stack: the API server,
//! its admission (quota, RBAC), the StatefulSet controller, the scheduler
//! and kwok's simulated kubelets decide; the portal shows and explains.

mod common;

use app::error::AppError;
use app::notebooks::catalog::Catalog;
use app::notebooks::manifest;
use app::notebooks::model::{Phase, VolumeChoice};
use app::notebooks::ops;
use common::notebooks::{Team, allow_gpus, create, service, wait_for};
use common::{as_user, cluster_admin};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kube::api::{Api, ListParams};

/// Every object in the team that carries the notebook label.
async fn leftovers(team: &str) -> Vec<String> {
    let admin = cluster_admin().await;
    let lp = ListParams::default().labels(manifest::NOTEBOOK_LABEL);
    let mut out = Vec::new();
    for s in Api::<StatefulSet>::namespaced(admin.clone(), team).list_metadata(&lp).await.unwrap() {
        out.push(format!("statefulset/{}", s.metadata.name.unwrap()));
    }
    for s in Api::<Service>::namespaced(admin.clone(), team).list_metadata(&lp).await.unwrap() {
        out.push(format!("service/{}", s.metadata.name.unwrap()));
    }
    for s in Api::<PersistentVolumeClaim>::namespaced(admin.clone(), team).list_metadata(&lp).await.unwrap() {
        out.push(format!("pvc/{}", s.metadata.name.unwrap()));
    }
    for s in Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), team).list_metadata(&lp).await.unwrap() {
        out.push(format!("secret/{}", s.metadata.name.unwrap()));
    }
    for s in Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(admin.clone(), team)
        .list_metadata(&lp)
        .await
        .unwrap()
    {
        out.push(format!("serviceaccount/{}", s.metadata.name.unwrap()));
    }
    for s in Api::<Pod>::namespaced(admin, team).list_metadata(&lp).await.unwrap() {
        out.push(format!("pod/{}", s.metadata.name.unwrap()));
    }
    out
}

#[tokio::test]
async fn create_run_stop_start_and_delete_keeping_the_volume() {
    let team = Team::new("it-nb-life").await;
    let nb = service("statefulset", |_| {}).await;
    create(&nb, &team.alice, &team.form("churn")).await.expect("alice creates a notebook");

    let row = wait_for(&nb, &team.name, "churn", Some(Phase::Running)).await.unwrap();
    assert_eq!(row.owner, "alice");
    // Notebook servers have no token of their own: only the portal's namespace may reach them.
    let policy = Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::namespaced(cluster_admin().await, &team.name)
        .get("atrium-notebooks")
        .await
        .expect("every team gets the notebook network policy");
    assert_eq!(policy.spec.unwrap().ingress.unwrap()[0].from.as_ref().unwrap().len(), 1);
    assert_eq!(row.volume.as_deref(), Some("churn-workspace"));
    assert_eq!(row.size, "Small");
    assert_eq!(row.image, "Minimal Python");

    ops::set_running(&team.alice.client(), nb.backend(), &team.name, "churn", false).await.expect("alice stops it");
    wait_for(&nb, &team.name, "churn", Some(Phase::Stopped)).await;
    let admin = cluster_admin().await;
    assert!(Api::<Pod>::namespaced(admin.clone(), &team.name).get_opt("churn-0").await.unwrap().is_none(), "compute freed");

    ops::set_running(&team.alice.client(), nb.backend(), &team.name, "churn", true).await.expect("alice starts it");
    wait_for(&nb, &team.name, "churn", Some(Phase::Running)).await;

    ops::delete(&team.alice, nb.backend(), &team.name, "churn", true).await.expect("alice deletes it, keeping the volume");
    wait_for(&nb, &team.name, "churn", None).await;
    let claims = Api::<PersistentVolumeClaim>::namespaced(admin.clone(), &team.name);
    assert!(claims.get_opt("churn-workspace").await.unwrap().is_some(), "the volume is kept");
    assert!(Api::<StatefulSet>::namespaced(admin.clone(), &team.name).get_opt("churn").await.unwrap().is_none());
    assert!(Api::<Service>::namespaced(admin, &team.name).get_opt("churn").await.unwrap().is_none());

    // A new notebook can use the kept volume; deleting it then leaves that volume alone.
    let mut again = team.form("churn-2");
    again.volume = VolumeChoice::Existing { claim: "churn-workspace".into() };
    create(&nb, &team.alice, &again).await.expect("a notebook on the kept volume");
    let row = wait_for(&nb, &team.name, "churn-2", Some(Phase::Running)).await.unwrap();
    assert_eq!(row.volume.as_deref(), Some("churn-workspace"));
    ops::delete(&team.alice, nb.backend(), &team.name, "churn-2", false).await.unwrap();
    assert!(claims.get_opt("churn-workspace").await.unwrap().is_some(), "not its own volume: kept");
    team.retire().await;
}

#[tokio::test]
async fn a_dry_run_shows_the_quota_refusal_and_nothing_is_created() {
    let team = Team::new("it-nb-quota").await;
    let nb = service("statefulset", |_| {}).await;
    let mut form = team.form("big");
    form.image = "pytorch-cuda".into();
    form.gpus = 3; // the team's quota allows 2
    let err = create(&nb, &team.alice, &form).await.unwrap_err();
    let AppError::QuotaExceeded(words) = &err else { panic!("expected a quota refusal, got {err:?}") };
    assert!(words.contains("GPUs: asked 3, 2 left of 2"), "{words}");
    assert_eq!(leftovers(&team.name).await, Vec::<String>::new(), "nothing was created");
    team.retire().await;
}

#[tokio::test]
async fn a_failure_part_way_through_a_create_leaves_nothing_behind() {
    let team = Team::new("it-nb-undo").await;
    let nb = service("statefulset", |_| {}).await;
    let form = team.form("half");
    let c = Catalog::starter();
    let plan = manifest::plan(
        &form,
        c.image("minimal").unwrap(),
        c.size("small").unwrap(),
        "alice",
        nb.backend(),
        "t",
        Some("http://localhost:3000"),
    );
    // Token, MLflow account and its token, volume and Service are made, then the sixth object fails.
    let err = ops::create_refused_after(&team.alice, &plan, &form, 5).await.unwrap_err();
    assert!(matches!(err, AppError::Internal(_)), "{err:?}");
    // A deleted claim lingers briefly for its protection finalizer.
    let mut left = leftovers(&team.name).await;
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = leftovers(&team.name).await;
    }
    assert_eq!(left, Vec::<String>::new());
    team.retire().await;
}

#[tokio::test]
async fn unschedulable_and_bad_image_are_explained() {
    let team = Team::new("it-nb-why").await;
    allow_gpus(&team.name, 8).await;
    let nb = service("statefulset", |_| {}).await;
    let mut form = team.form("greedy");
    form.image = "pytorch-cuda".into();
    form.gpus = 6; // the biggest node has 4
    create(&nb, &team.alice, &form).await.expect("quota allows it");
    let row = wait_for(&nb, &team.name, "greedy", Some(Phase::Pending)).await.unwrap();
    let mut reason = row.reason.unwrap_or_default();
    for _ in 0..100 {
        if reason.starts_with("No node has enough") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        reason = nb.index.row(&team.name, "greedy").and_then(|r| r.reason).unwrap_or_default();
    }
    assert!(reason.starts_with("No node has enough GPUs (nvidia.com/gpu) free"), "{reason}");

    let mut catalog = Catalog::starter();
    catalog.images[0].image = "registry.invalid/atrium/missing".into();
    catalog.images[0].tag = "1".into();
    let form = team.form("typo");
    let plan = manifest::plan(&form, &catalog.images[0], catalog.size("small").unwrap(), "alice", nb.backend(), "t", None);
    ops::create(&team.alice, &plan, &form).await.unwrap();
    let row = wait_for(&nb, &team.name, "typo", Some(Phase::Failed)).await.unwrap();
    assert_eq!(
        row.reason.as_deref(),
        Some("The image registry.invalid/atrium/missing:1 cannot be pulled: it does not exist (check the name and tag).")
    );
    team.retire().await;
}

#[tokio::test]
async fn team_b_can_neither_see_stop_nor_delete_team_a_notebooks() {
    let team = Team::new("it-nb-fence").await;
    let nb = service("statefulset", |_| {}).await;
    create(&nb, &team.alice, &team.form("private")).await.unwrap();
    wait_for(&nb, &team.name, "private", Some(Phase::Running)).await;
    let maria = as_user("maria").await;
    let backend = nb.backend();
    for (what, result) in [
        ("see", ops::check_visible(&maria, backend, &team.name, "private").await),
        ("stop", ops::set_running(&maria.client(), backend, &team.name, "private", false).await),
        ("delete", ops::delete(&maria, backend, &team.name, "private", false).await),
    ] {
        assert!(matches!(result, Err(AppError::Forbidden(_))), "maria could {what}: {result:?}");
    }
    let list = app::platform::access::may(&maria, "apps", "statefulsets", "list", Some(&team.name)).await.unwrap();
    assert!(!list, "Kubernetes refuses maria the list");
    assert_eq!(wait_for(&nb, &team.name, "private", Some(Phase::Running)).await.unwrap().owner, "alice", "still running");
    team.retire().await;
}

#[tokio::test]
async fn only_platform_admins_change_the_catalog_and_bad_entries_are_refused() {
    let nb = service("statefulset", |_| {}).await;
    let namespace = nb.config.portal_namespace.clone();
    let mut catalog = Catalog::starter();
    catalog.images.push(app::notebooks::catalog::ImageEntry {
        id: "r-studio".into(),
        display_name: "R (retired)".into(),
        description: "Kept for old notebooks".into(),
        image: "quay.io/jupyter/r-notebook".into(),
        tag: "2024-01-01".into(),
        gpu: false,
        enabled: false,
    });
    let alice = as_user("alice").await;
    let err = ops::save_catalog(&alice, &namespace, &catalog).await.unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "Kubernetes refuses a data scientist: {err:?}");

    let paula = as_user("paula").await;
    let mut bad = catalog.clone();
    bad.sizes[0].memory_limit = "2 GB".into();
    let err = ops::save_catalog(&paula, &namespace, &bad).await.unwrap_err();
    assert_eq!(err.to_string(), "Size 1 (“Small”): the memory limit “2 GB” is not a quantity (like 500m, 2, 8Gi).");

    ops::save_catalog(&paula, &namespace, &catalog).await.expect("a platform admin saves the catalog");
    for _ in 0..100 {
        if nb.catalog() == catalog {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(nb.catalog(), catalog, "the portal sees the saved catalog");
    // Leave the catalog as the other tests expect it.
    ops::save_catalog(&paula, &namespace, &Catalog::starter()).await.unwrap();
}

#[tokio::test]
async fn data_connections_reach_the_notebook_as_environment_and_stay_in_their_team() {
    use app::notebooks::connections::{ConnectionForm, server as connections};
    let team = Team::new("it-nb-conn").await;
    let nb = service("statefulset", |_| {}).await;
    let form = ConnectionForm {
        name: "raw-data".into(),
        endpoint: "https://s3.example.org".into(),
        bucket: "raw".into(),
        region: "eu-1".into(),
        access_key: "AKIAEXAMPLE".into(),
        secret_key: "s3cr3t-example".into(),
    };
    let mut bad = form.clone();
    bad.endpoint = "s3.example.org".into();
    let err = connections::create(&team.alice, &team.name, &bad).await.unwrap_err();
    assert!(err.to_string().contains("is not an http(s) address"), "{err}");
    connections::create(&team.alice, &team.name, &form).await.expect("alice adds a data connection");
    let listed = connections::list(&team.alice, &team.name).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].endpoint.as_str(), listed[0].bucket.as_str()), ("https://s3.example.org", "raw"));
    let maria = as_user("maria").await;
    assert!(matches!(connections::list(&maria, &team.name).await, Err(AppError::Forbidden(_))), "team B cannot list them");
    assert!(matches!(connections::create(&maria, &team.name, &form).await, Err(AppError::Forbidden(_))));

    let mut nbform = team.form("with-data");
    nbform.connections = vec!["raw-data".into()];
    create(&nb, &team.alice, &nbform).await.expect("a notebook with the connection");
    let set = Api::<StatefulSet>::namespaced(cluster_admin().await, &team.name).get("with-data").await.unwrap();
    let container = &set.spec.unwrap().template.spec.unwrap().containers[0];
    assert_eq!(container.env_from.as_ref().unwrap()[0].secret_ref.as_ref().unwrap().name, "raw-data");
    let mut unknown = team.form("with-nothing");
    unknown.connections = vec!["not-a-connection".into()];
    let err = create(&nb, &team.alice, &unknown).await.unwrap_err();
    assert_eq!(err.to_string(), "Data connection “not-a-connection” is not one of the team's data connections.");

    connections::delete(&team.alice, &team.name, "raw-data").await.unwrap();
    assert!(connections::list(&team.alice, &team.name).await.unwrap().is_empty());
    team.retire().await;
}
