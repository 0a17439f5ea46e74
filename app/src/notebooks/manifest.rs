//! The Kubernetes objects a notebook is made of, built from the form and the
//! catalog. One function per backend; both share the pod spec, so a notebook
//! runs the same way whichever carries it.

use super::catalog::{ImageEntry, SizeEntry};
use super::kubeflow::{Notebook, NotebookSpec, NotebookTemplate};
use super::model::{Backend, NotebookForm, VolumeChoice};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, Secret, SecretEnvSource,
    SecretKeySelector, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Every object of a notebook carries this label, with the notebook's name.
pub const NOTEBOOK_LABEL: &str = "atrium.io/notebook";
pub const OWNER_ANNOTATION: &str = "atrium.io/owner";
pub const IMAGE_ANNOTATION: &str = "atrium.io/image";
pub const SIZE_ANNOTATION: &str = "atrium.io/size";
/// Kubeflow's own creator annotation, so its UI shows the owner too.
pub const KUBEFLOW_CREATOR: &str = "notebooks.kubeflow.org/creator";
/// Secrets with this label are data connections a notebook may use.
pub const CONNECTION_LABEL: &str = "atrium.io/data-connection";
/// Where JupyterLab listens in the container, and where the workspace is.
pub const JUPYTER_PORT: i32 = 8888;
pub const WORKSPACE_PATH: &str = "/home/jovyan";

/// What will be applied, in order.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The notebook's own Jupyter token, which the portal's proxy adds to
    /// every request; people never see it.
    pub token: Secret,
    pub claim: Option<PersistentVolumeClaim>,
    pub service: Option<Service>,
    pub workload: Workload,
    /// The notebook's own identity for MLflow, when the portal has a
    /// tracking server: a ServiceAccount and a token Secret for it (filled
    /// by Kubernetes' token controller, revoked by deleting it).
    pub tracking: Option<Tracking>,
}

#[derive(Clone, Debug)]
pub struct Tracking {
    pub account: ServiceAccount,
    pub token: Secret,
}

#[derive(Clone, Debug)]
pub enum Workload {
    StatefulSet(StatefulSet),
    Notebook(Notebook),
}

impl Plan {
    /// The manifests as one YAML stream, exactly as they will be sent.
    pub fn yaml(&self) -> String {
        let mut docs = Vec::new();
        let mut token = self.token.clone();
        token.string_data = Some(BTreeMap::from([(TOKEN_KEY.to_string(), "(made by the portal, never shown)".to_string())]));
        docs.push(yaml_of(&token, "v1", "Secret"));
        if let Some(t) = &self.tracking {
            docs.push(yaml_of(&t.account, "v1", "ServiceAccount"));
            docs.push(yaml_of(&t.token, "v1", "Secret"));
        }
        if let Some(c) = &self.claim {
            docs.push(yaml_of(c, "v1", "PersistentVolumeClaim"));
        }
        if let Some(s) = &self.service {
            docs.push(yaml_of(s, "v1", "Service"));
        }
        docs.push(match &self.workload {
            Workload::StatefulSet(s) => yaml_of(s, "apps/v1", "StatefulSet"),
            Workload::Notebook(n) => yaml_of(n, "kubeflow.org/v1", "Notebook"),
        });
        docs.join("---\n")
    }
}

fn yaml_of<T: serde::Serialize>(object: &T, api_version: &str, kind: &str) -> String {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), api_version.into());
        map.insert("kind".into(), kind.into());
        map.remove("status");
    }
    // Keep apiVersion and kind first, as people write them.
    let mut ordered = serde_json::Map::new();
    if let Some(map) = value.as_object() {
        for key in ["apiVersion", "kind", "metadata", "type", "stringData", "spec"] {
            if let Some(v) = map.get(key) {
                ordered.insert(key.into(), v.clone());
            }
        }
    }
    serde_saphyr::to_string(&serde_json::Value::Object(ordered)).unwrap_or_default()
}

pub use super::model::url_prefix;

/// The Secret holding a notebook's Jupyter token, and its key.
pub fn token_secret_name(name: &str) -> String {
    format!("{name}-jupyter")
}
pub const TOKEN_KEY: &str = "token";

pub fn claim_name(name: &str) -> String {
    format!("{name}-workspace")
}

/// The notebook's own ServiceAccount: what it is to MLflow's gateway.
pub fn account_name(name: &str) -> String {
    format!("{name}{ACCOUNT_SUFFIX}")
}
pub const ACCOUNT_SUFFIX: &str = "-notebook";

/// The token Secret of that ServiceAccount, given to the notebook as
/// `MLFLOW_TRACKING_TOKEN`; deleting it revokes the token.
pub fn tracking_secret_name(name: &str) -> String {
    format!("{name}-mlflow")
}
/// Where Kubernetes' token controller puts the token.
pub const TRACKING_TOKEN_KEY: &str = "token";

/// The tracking server's address for a team's workloads: the portal's
/// gateway (`experiments::gateway`), below `base`.
pub fn tracking_uri(base: &str, team: &str) -> String {
    format!("{}/mlflow/{team}", base.trim_end_matches('/'))
}

/// Builds the objects of a new notebook, with its Jupyter `token`, logging
/// to MLflow through the portal at `tracking_base` when there is one. The
/// form must have been checked.
pub fn plan(form: &NotebookForm, image: &ImageEntry, size: &SizeEntry, owner: &str, backend: Backend, token: &str, tracking_base: Option<&str>) -> Plan {
    let name = form.name.as_str();
    let labels = BTreeMap::from([
        (NOTEBOOK_LABEL.to_string(), name.to_string()),
        ("app.kubernetes.io/managed-by".to_string(), "atrium".to_string()),
    ]);
    let mut annotations = BTreeMap::from([
        (OWNER_ANNOTATION.to_string(), owner.to_string()),
        (IMAGE_ANNOTATION.to_string(), image.id.clone()),
        (SIZE_ANNOTATION.to_string(), size.id.clone()),
    ]);
    let meta = |annotations: Option<BTreeMap<String, String>>| ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(form.team.clone()),
        labels: Some(labels.clone()),
        annotations,
        ..Default::default()
    };
    let claim = match &form.volume {
        VolumeChoice::New { size, storage_class } => Some(PersistentVolumeClaim {
            metadata: ObjectMeta { name: Some(claim_name(name)), ..meta(Some(annotations.clone())) },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: storage_class.clone(),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.clone()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        _ => None,
    };
    let token = Secret {
        metadata: ObjectMeta { name: Some(token_secret_name(name)), ..meta(None) },
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(TOKEN_KEY.to_string(), token.to_string())])),
        ..Default::default()
    };
    let tracking = tracking_base.map(|_| Tracking {
        account: ServiceAccount {
            metadata: ObjectMeta {
                name: Some(account_name(name)),
                ..meta(Some(BTreeMap::from([(OWNER_ANNOTATION.to_string(), owner.to_string())])))
            },
            // Its token is for MLflow's gateway only; the pod gets none mounted.
            automount_service_account_token: Some(false),
            ..Default::default()
        },
        token: Secret {
            metadata: ObjectMeta {
                name: Some(tracking_secret_name(name)),
                annotations: Some(BTreeMap::from([("kubernetes.io/service-account.name".to_string(), account_name(name))])),
                ..meta(None)
            },
            type_: Some("kubernetes.io/service-account-token".into()),
            ..Default::default()
        },
    });
    let pod = pod_spec(form, image, size, tracking_base);
    match backend {
        Backend::StatefulSet => {
            let selector = BTreeMap::from([(NOTEBOOK_LABEL.to_string(), name.to_string())]);
            let service = Service {
                metadata: meta(None),
                spec: Some(ServiceSpec {
                    selector: Some(selector.clone()),
                    ports: Some(vec![ServicePort {
                        name: Some("http".into()),
                        port: 80,
                        target_port: Some(IntOrString::Int(JUPYTER_PORT)),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let set = StatefulSet {
                metadata: meta(Some(annotations)),
                spec: Some(StatefulSetSpec {
                    replicas: Some(1),
                    service_name: Some(name.to_string()),
                    selector: LabelSelector { match_labels: Some(selector), ..Default::default() },
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta { labels: Some(labels.clone()), ..Default::default() }),
                        spec: Some(pod),
                    },
                    ..Default::default()
                }),
                ..Default::default()
            };
            Plan {
                token,
                claim,
                service: Some(service),
                workload: Workload::StatefulSet(set),
                tracking,
            }
        }
        Backend::Kubeflow => {
            annotations.insert(KUBEFLOW_CREATOR.to_string(), owner.to_string());
            let mut notebook = Notebook::new(name, NotebookSpec { template: NotebookTemplate { spec: pod } });
            notebook.metadata = meta(Some(annotations));
            // Kubeflow's controller makes the Service and StatefulSet.
            Plan {
                token,
                claim,
                service: None,
                workload: Workload::Notebook(notebook),
                tracking,
            }
        }
    }
}

fn pod_spec(form: &NotebookForm, image: &ImageEntry, size: &SizeEntry, tracking_base: Option<&str>) -> PodSpec {
    let prefix = url_prefix(&form.team, &form.name);
    let mut env = vec![
        EnvVar { name: "NB_PREFIX".into(), value: Some(prefix.clone()), ..Default::default() },
        // Jupyter Docker Stacks images read their server arguments from here.
        EnvVar {
            name: "NOTEBOOK_ARGS".into(),
            value: Some(format!("--ServerApp.base_url={prefix} --ServerApp.password=''")),
            ..Default::default()
        },
        // Jupyter Server takes its token from here; the portal's proxy adds
        // it to every request after checking who is opening the notebook.
        EnvVar {
            name: "JUPYTER_TOKEN".into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector { name: token_secret_name(&form.name), key: TOKEN_KEY.into(), optional: Some(false) }),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    env.extend(form.env.iter().map(|(k, v)| EnvVar {
        name: k.clone(),
        value: Some(v.clone()),
        ..Default::default()
    }));
    if let Some(base) = tracking_base {
        // Plain MLflow clients log with these, no plugin: the URI is the
        // portal's gateway, the token the notebook's own ServiceAccount's
        // (sent as a Bearer token), the workspace the team's (the gateway
        // sets it itself whatever the client sends).
        env.push(EnvVar {
            name: "MLFLOW_TRACKING_URI".into(),
            value: Some(tracking_uri(base, &form.team)),
            ..Default::default()
        });
        env.push(EnvVar {
            name: "MLFLOW_WORKSPACE".into(),
            value: Some(form.team.clone()),
            ..Default::default()
        });
        env.push(EnvVar {
            name: "MLFLOW_TRACKING_TOKEN".into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: tracking_secret_name(&form.name),
                    key: TRACKING_TOKEN_KEY.into(),
                    optional: Some(false),
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let env_from: Vec<EnvFromSource> = form
        .connections
        .iter()
        .map(|s| EnvFromSource {
            secret_ref: Some(SecretEnvSource { name: s.clone(), optional: Some(false) }),
            ..Default::default()
        })
        .collect();
    let q = |s: &str| Quantity(s.to_string());
    let mut requests = BTreeMap::from([("cpu".to_string(), q(&size.cpu_request)), ("memory".to_string(), q(&size.memory_request))]);
    let mut limits = BTreeMap::from([("cpu".to_string(), q(&size.cpu_limit)), ("memory".to_string(), q(&size.memory_limit))]);
    if form.gpus > 0 {
        requests.insert("nvidia.com/gpu".into(), q(&form.gpus.to_string()));
        limits.insert("nvidia.com/gpu".into(), q(&form.gpus.to_string()));
    }
    let claim = match &form.volume {
        VolumeChoice::New { .. } => Some(claim_name(&form.name)),
        VolumeChoice::Existing { claim } => Some(claim.clone()),
        VolumeChoice::None => None,
    };
    PodSpec {
        containers: vec![Container {
            name: form.name.clone(),
            image: Some(image.reference()),
            ports: Some(vec![ContainerPort {
                name: Some("notebook-port".into()),
                container_port: JUPYTER_PORT,
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            env: Some(env),
            env_from: (!env_from.is_empty()).then_some(env_from),
            resources: Some(ResourceRequirements { requests: Some(requests), limits: Some(limits), ..Default::default() }),
            security_context: Some(restricted_container()),
            volume_mounts: claim.as_ref().map(|_| {
                vec![VolumeMount {
                    name: "workspace".into(),
                    mount_path: WORKSPACE_PATH.into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }],
        service_account_name: tracking_base.map(|_| account_name(&form.name)),
        automount_service_account_token: Some(false),
        volumes: claim.map(|claim_name| {
            vec![Volume {
                name: "workspace".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name, read_only: None }),
                ..Default::default()
            }]
        }),
        security_context: Some(PodSecurityContext {
            // Jupyter Docker Stacks' user (jovyan) and group (users).
            run_as_user: Some(1000),
            run_as_group: Some(100),
            fs_group: Some(100),
            run_as_non_root: Some(true),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What Pod Security `restricted` (enforced on team namespaces) asks of
/// every container.
fn restricted_container() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notebooks::catalog::Catalog;

    fn form(volume: VolumeChoice, gpus: u32) -> NotebookForm {
        NotebookForm {
            team: "team-a".into(),
            name: "churn".into(),
            image: "pytorch-cuda".into(),
            size: "medium".into(),
            gpus,
            volume,
            env: vec![("HF_HOME".into(), "/home/jovyan/.cache/huggingface".into())],
            connections: vec!["s3-raw-data".into()],
        }
    }

    /// Compares with the file under `snapshots/`; `UPDATE_SNAPSHOTS=1` rewrites it.
    fn snapshot(name: &str, actual: &str) {
        let path = format!("{}/src/notebooks/snapshots/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, actual).expect("write snapshot");
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path} missing (UPDATE_SNAPSHOTS=1 writes it)"));
        assert_eq!(expected, actual, "{name} changed; review and regenerate with UPDATE_SNAPSHOTS=1");
    }

    fn build(volume: VolumeChoice, gpus: u32, backend: Backend) -> Plan {
        let c = Catalog::starter();
        plan(
            &form(volume, gpus),
            c.image("pytorch-cuda").unwrap(),
            c.size("medium").unwrap(),
            "alice",
            backend,
            "t0k3n",
            Some("http://atrium.atrium.svc:8080"),
        )
    }

    #[test]
    fn statefulset_backend_manifests() {
        let p = build(VolumeChoice::New { size: "20Gi".into(), storage_class: Some("standard".into()) }, 1, Backend::StatefulSet);
        snapshot("statefulset", &p.yaml());
    }

    #[test]
    fn kubeflow_backend_manifests() {
        let p = build(VolumeChoice::Existing { claim: "shared-data".into() }, 0, Backend::Kubeflow);
        assert!(p.claim.is_none() && p.service.is_none(), "an existing claim is reused; Kubeflow makes the Service");
        assert!(!p.yaml().contains("t0k3n"), "the token is never shown");
        assert!(
            p.yaml().contains("value: http://atrium.atrium.svc:8080/mlflow/team-a"),
            "notebooks log through the portal's gateway"
        );
        snapshot("kubeflow", &p.yaml());
    }

    #[test]
    fn both_backends_run_the_same_pod() {
        let v = VolumeChoice::New { size: "5Gi".into(), storage_class: None };
        let (Workload::StatefulSet(s), Workload::Notebook(n)) =
            (build(v.clone(), 2, Backend::StatefulSet).workload, build(v, 2, Backend::Kubeflow).workload)
        else {
            panic!("wrong workloads")
        };
        assert_eq!(s.spec.unwrap().template.spec.unwrap(), n.spec.template.spec);
    }
}
