//! The Kubeflow `Notebook` resource (kubeflow.org/v1), as Kubeflow and Open
//! Data Hub install it: a pod template, stopped by an annotation. Our schema
//! is structural and keeps unknown fields under the template and status, so
//! objects made by other tools survive a round trip through the portal.

use k8s_openapi::api::core::v1::PodSpec;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Set (to a timestamp) while a Kubeflow notebook is stopped; its controller
/// then scales the StatefulSet to zero.
pub const STOPPED_ANNOTATION: &str = "kubeflow-resource-stopped";

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[kube(group = "kubeflow.org", version = "v1", kind = "Notebook", namespaced)]
#[kube(status = "NotebookStatus", shortname = "nb")]
pub struct NotebookSpec {
    pub template: NotebookTemplate,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct NotebookTemplate {
    #[schemars(schema_with = "preserve_unknown")]
    pub spec: PodSpec,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotebookStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown")]
    pub container_state: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_list")]
    pub conditions: Option<Vec<serde_json::Value>>,
}

fn preserve_unknown(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

fn preserve_unknown_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

/// The CRD as YAML, for `deploy/` and the tests that install it.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    serde_saphyr::to_string(&Notebook::crd()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file the local stack and the tests install is the one our types make.
    #[test]
    fn deployed_crd_matches_the_rust_types() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/crds/kubeflow-notebook.yaml");
        let generated = crd_yaml();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, &generated).expect("write CRD");
        }
        let on_disk = std::fs::read_to_string(path).expect("deploy/crds/kubeflow-notebook.yaml (UPDATE_SNAPSHOTS=1 writes it)");
        assert_eq!(on_disk, generated, "regenerate with UPDATE_SNAPSHOTS=1");
        assert!(generated.contains("x-kubernetes-preserve-unknown-fields: true"));
    }
}
