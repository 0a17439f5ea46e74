//! Notebooks on Kubeflow's `Notebook` resource against the local stack. The
//! CRD (generated from our Rust types) is installed for this test and
//! removed after it. Nothing in the local stack reconciles `Notebook`s, so
//! this test does what Kubeflow's notebook controller would: it makes the
//! StatefulSet from the Notebook and scales it by the stopped annotation.
//! Everything the portal does — choosing the backend, creating, stopping,
//! starting, deleting, showing status — is the real thing.

mod common;

use app::notebooks::kubeflow::{Notebook, STOPPED_ANNOTATION};
use app::notebooks::model::{Backend, Phase};
use app::notebooks::ops;
use common::notebooks::{Team, create, service, wait_for};
use common::{as_user, cluster_admin};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{CustomResourceExt, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::time::Duration;

async fn install_crd(admin: &kube::Client) {
    let crds = Api::<CustomResourceDefinition>::all(admin.clone());
    crds.patch(&Notebook::crd_name(), &PatchParams::apply("atrium-tests").force(), &Patch::Apply(Notebook::crd())).await.unwrap();
    for _ in 0..100 {
        let crd = crds.get(Notebook::crd_name()).await.unwrap();
        let established = crd.status.and_then(|s| s.conditions).unwrap_or_default().iter().any(|c| c.type_ == "Established" && c.status == "True");
        if established && ops::kubeflow_installed(admin).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the Notebook CRD was not established");
}

/// What Kubeflow's controller does for one Notebook.
async fn reconcile(admin: &kube::Client, team: &str, name: &str) {
    let nb = Api::<Notebook>::namespaced(admin.clone(), team).get(name).await.unwrap();
    let mut labels: BTreeMap<String, String> = nb.labels().clone();
    labels.insert("statefulset".into(), name.into());
    labels.insert("notebook-name".into(), name.into());
    let owner = OwnerReference {
        api_version: Notebook::api_version(&()).into(),
        kind: "Notebook".into(),
        name: name.into(),
        uid: nb.uid().unwrap(),
        controller: Some(true),
        ..Default::default()
    };
    let set = StatefulSet {
        metadata: ObjectMeta { name: Some(name.into()), owner_references: Some(vec![owner]), ..Default::default() },
        spec: Some(StatefulSetSpec {
            replicas: Some(if nb.annotations().contains_key(STOPPED_ANNOTATION) { 0 } else { 1 }),
            selector: LabelSelector { match_labels: Some(BTreeMap::from([("statefulset".into(), name.into())])), ..Default::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(nb.spec.template.spec.clone()),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let api = Api::<StatefulSet>::namespaced(admin.clone(), team);
    api.patch(name, &PatchParams::apply("test-as-notebook-controller").force(), &Patch::Apply(&set)).await.unwrap();
}

#[tokio::test]
async fn kubeflow_notebooks_are_chosen_created_stopped_started_and_deleted() {
    let admin = cluster_admin().await;
    install_crd(&admin).await;
    let team = Team::new("it-nb-kf").await;
    let nb = service("auto", |_| {}).await;
    assert_eq!(nb.backend(), Backend::Kubeflow, "auto chooses Kubeflow when its CRD is installed");

    create(&nb, &team.alice, &team.form("kf")).await.expect("alice creates a Kubeflow notebook");
    let made = Api::<Notebook>::namespaced(admin.clone(), &team.name).get("kf").await.unwrap();
    assert_eq!(made.annotations().get("notebooks.kubeflow.org/creator").map(String::as_str), Some("alice"));
    assert!(
        Api::<StatefulSet>::namespaced(admin.clone(), &team.name).get_opt("kf").await.unwrap().is_none(),
        "the portal leaves the StatefulSet to Kubeflow's controller"
    );
    let row = wait_for(&nb, &team.name, "kf", Some(Phase::Pending)).await.unwrap();
    assert_eq!(row.backend, Backend::Kubeflow);

    reconcile(&admin, &team.name, "kf").await;
    wait_for(&nb, &team.name, "kf", Some(Phase::Running)).await;

    ops::set_running(&team.alice.client(), nb.backend(), &team.name, "kf", false).await.unwrap();
    let stopped = Api::<Notebook>::namespaced(admin.clone(), &team.name).get("kf").await.unwrap();
    assert!(stopped.annotations().contains_key(STOPPED_ANNOTATION), "stopped the Kubeflow way");
    reconcile(&admin, &team.name, "kf").await;
    wait_for(&nb, &team.name, "kf", Some(Phase::Stopped)).await;

    ops::set_running(&team.alice.client(), nb.backend(), &team.name, "kf", true).await.unwrap();
    reconcile(&admin, &team.name, "kf").await;
    wait_for(&nb, &team.name, "kf", Some(Phase::Running)).await;

    let maria = as_user("maria").await;
    assert!(ops::check_visible(&maria, nb.backend(), &team.name, "kf").await.is_err(), "team B cannot read it");

    ops::delete(&team.alice, nb.backend(), &team.name, "kf", false).await.unwrap();
    wait_for(&nb, &team.name, "kf", None).await;
    team.retire().await;
    let crds = Api::<CustomResourceDefinition>::all(admin);
    crds.delete(Notebook::crd_name(), &DeleteParams::default()).await.unwrap();
    for _ in 0..100 {
        if crds.get_opt(Notebook::crd_name()).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
