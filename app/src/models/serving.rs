//! A deployment of a model version is a KServe `InferenceService`
//! (serving.kserve.io/v1beta1) in the team's namespace, written as the
//! person; KServe's own controller makes its Deployment and Service. This
//! file makes the object from what the person asked for and reads its
//! status back in words.

use super::model::{DeployRequest, Deployment, ServingState};
use serde_json::{Value, json};

pub const GROUP: &str = "serving.kserve.io";
pub const VERSION: &str = "v1beta1";
pub const KIND: &str = "InferenceService";
pub const PLURAL: &str = "inferenceservices";

/// The model (its registered name, exactly) and version an
/// InferenceService serves, and who deployed it.
pub const MODEL_ANNOTATION: &str = "atrium.io/model";
pub const VERSION_ANNOTATION: &str = "atrium.io/model-version";
pub const DEPLOYED_BY_ANNOTATION: &str = "atrium.io/deployed-by";
/// Every InferenceService the portal makes carries it, so the models pages
/// list only those (others are shown by name on the team's page later).
pub const MANAGED_LABEL: &str = "atrium.io/model-deployment";

pub fn api_resource() -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: format!("{GROUP}/{VERSION}"),
        kind: KIND.into(),
        plural: PLURAL.into(),
    }
}

/// Where the cluster's model server reads a version's files: MLflow's
/// `mlflow-artifacts:/<path>` under `artifacts_uri`, or an object-store URI
/// MLflow already names. Anything else (a local path on MLflow's server)
/// cannot be read by a model server, and the reason says so.
pub fn storage_uri(location: &str, artifacts_uri: &str) -> Result<String, String> {
    let location = location.trim();
    if let Some(path) = location.strip_prefix("mlflow-artifacts:") {
        let base = artifacts_uri.trim().trim_end_matches('/');
        if base.is_empty() {
            return Err("This portal does not know where MLflow keeps its files in object storage, so model servers cannot read this version. Ask your platform team to set models.artifacts_uri.".into());
        }
        let path = path.trim_start_matches('/');
        if path.is_empty() || path.split('/').any(|p| p == "..") {
            return Err("This version's files are not in a place a model server can read.".into());
        }
        return Ok(format!("{base}/{path}"));
    }
    if ["s3://", "gs://", "https://", "hdfs://"].iter().any(|p| location.starts_with(p)) {
        return Ok(location.to_string());
    }
    Err("This version's files are not in object storage, so a model server cannot read them. Register it from a run whose model was logged to the tracking server.".into())
}

/// The InferenceService for a deployment request: an MLflow model served by
/// `runtime` (MLServer, V2 protocol) from `storage`, with the team's data
/// connection `connection` as the credentials to read it.
pub fn inference_service(req: &DeployRequest, storage: &str, runtime: &str, connection: &str, by: &str) -> Value {
    let mut limits = json!({ "cpu": req.cpu, "memory": req.memory });
    let mut requests = json!({ "cpu": req.cpu, "memory": req.memory });
    if req.gpus > 0 {
        limits["nvidia.com/gpu"] = json!(req.gpus.to_string());
        requests["nvidia.com/gpu"] = json!(req.gpus.to_string());
    }
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": KIND,
        "metadata": {
            "name": req.name,
            "namespace": req.team,
            "labels": { MANAGED_LABEL: "true" },
            "annotations": {
                MODEL_ANNOTATION: req.model,
                VERSION_ANNOTATION: req.version,
                DEPLOYED_BY_ANNOTATION: by,
                "serving.kserve.io/deploymentMode": "Standard",
                "serving.kserve.io/storageSecretName": connection,
            },
        },
        "spec": {
            "predictor": {
                "minReplicas": req.min_replicas,
                "maxReplicas": req.max_replicas,
                "model": {
                    "modelFormat": { "name": "mlflow" },
                    "protocolVersion": "v2",
                    "runtime": runtime,
                    "storageUri": storage,
                    "resources": { "requests": requests, "limits": limits },
                },
            },
        },
    })
}

fn annotation<'a>(o: &'a Value, key: &str) -> &'a str {
    o["metadata"]["annotations"][key].as_str().unwrap_or_default()
}

/// Condition types whose `False` is only "not yet" while the controller
/// works (a new Deployment's pods starting); any other `False` with a
/// message is a failure to show.
const STARTING_REASONS: [&str; 4] = ["MinimumReplicasUnavailable", "ReplicaSetUpdated", "NewReplicaSetCreated", "FoundNewReplicaSet"];

/// A deployment as the pages show it, from the InferenceService as
/// Kubernetes holds it (`o` is the whole object) and refusals of its pods
/// found in the team's events (`refusals`, already in words).
pub fn deployment(o: &Value, refusals: Vec<String>) -> Deployment {
    let predictor = &o["spec"]["predictor"];
    let model = &predictor["model"];
    let requests = &model["resources"]["requests"];
    let conditions: Vec<&Value> = o["status"]["conditions"].as_array().map(|c| c.iter().collect()).unwrap_or_default();
    let ready = conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
    let mut reasons: Vec<String> = Vec::new();
    for c in &conditions {
        if c["status"] != "False" {
            continue;
        }
        let reason = c["reason"].as_str().unwrap_or_default();
        let message = c["message"].as_str().unwrap_or_default().trim();
        if message.is_empty() || STARTING_REASONS.contains(&reason) {
            continue;
        }
        let line = message.to_string();
        if !reasons.contains(&line) {
            reasons.push(line);
        }
    }
    let failing = !ready && (!reasons.is_empty() || !refusals.is_empty());
    for r in refusals {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    let created_ms = o["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or_default();
    Deployment {
        name: o["metadata"]["name"].as_str().unwrap_or_default().into(),
        model: annotation(o, MODEL_ANNOTATION).into(),
        version: annotation(o, VERSION_ANNOTATION).into(),
        state: if ready {
            ServingState::Ready
        } else if failing {
            ServingState::Failing
        } else {
            ServingState::Starting
        },
        url: o["status"]["url"].as_str().unwrap_or_default().into(),
        min_replicas: predictor["minReplicas"].as_u64().unwrap_or(1) as u32,
        max_replicas: predictor["maxReplicas"].as_u64().unwrap_or(1) as u32,
        cpu: requests["cpu"].as_str().unwrap_or_default().into(),
        memory: requests["memory"].as_str().unwrap_or_default().into(),
        gpus: requests["nvidia.com/gpu"].as_str().and_then(|g| g.parse().ok()).unwrap_or(0),
        reasons: if ready { Vec::new() } else { reasons },
        deployed_by: annotation(o, DEPLOYED_BY_ANNOTATION).into(),
        created_ms,
    }
}

/// A Kubernetes event about one of a deployment's objects, in words when it
/// keeps the deployment from running (its pods refused by quota or Pod
/// Security, an image that cannot be pulled), else `None`.
pub fn refusal(reason: &str, message: &str) -> Option<String> {
    let message = message.trim();
    match reason {
        "FailedCreate" if message.contains("exceeded quota") => {
            Some(format!("Its pods would exceed the team's quota: {}", crate::platform::kube::quota_detail(message)))
        }
        "FailedCreate" if message.contains("violates PodSecurity") => {
            Some("Its pods break the team's Pod Security rules (restricted); the serving runtime must run as non-root.".into())
        }
        "FailedCreate" | "FailedScheduling" => Some(format!("Kubernetes cannot start its pods: {}", message.chars().take(300).collect::<String>())),
        "ErrImagePull" | "ImagePullBackOff" | "Failed" if message.contains("image") => {
            Some(format!("Its server image cannot be pulled: {}", message.chars().take(300).collect::<String>()))
        }
        "InternalError" | "ServingRuntimeNotFound" => Some(message.chars().take(300).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> DeployRequest {
        DeployRequest {
            team: "team-a".into(),
            model: "Flight_Delays".into(),
            version: "3".into(),
            name: "flight-delays".into(),
            cpu: "500m".into(),
            memory: "1Gi".into(),
            gpus: 0,
            min_replicas: 1,
            max_replicas: 3,
        }
    }

    #[test]
    fn mlflow_artifacts_map_under_the_object_store() {
        assert_eq!(
            storage_uri("mlflow-artifacts:/workspaces/team-a/1/models/m-1/artifacts", "s3://atrium-mlflow/").unwrap(),
            "s3://atrium-mlflow/workspaces/team-a/1/models/m-1/artifacts"
        );
        assert_eq!(storage_uri("s3://bucket/model", "").unwrap(), "s3://bucket/model");
        assert!(storage_uri("mlflow-artifacts:/x", "").unwrap_err().contains("models.artifacts_uri"));
        assert!(storage_uri("/var/mlflow/artifacts/1/x", "s3://b").unwrap_err().contains("not in object storage"));
        assert!(storage_uri("mlflow-artifacts:/a/../../b", "s3://b").is_err());
    }

    #[test]
    fn the_inference_service_names_model_version_runtime_and_credentials() {
        let o = inference_service(&request(), "s3://b/m", "kserve-mlserver", "object-storage", "maria");
        assert_eq!(o["metadata"]["annotations"][MODEL_ANNOTATION], "Flight_Delays");
        assert_eq!(o["metadata"]["annotations"][VERSION_ANNOTATION], "3");
        assert_eq!(o["metadata"]["annotations"]["serving.kserve.io/storageSecretName"], "object-storage");
        assert_eq!(o["spec"]["predictor"]["model"]["modelFormat"]["name"], "mlflow");
        assert_eq!(o["spec"]["predictor"]["model"]["runtime"], "kserve-mlserver");
        assert_eq!(o["spec"]["predictor"]["maxReplicas"], 3);
        assert!(o["spec"]["predictor"]["model"]["resources"]["limits"].get("nvidia.com/gpu").is_none());
        let mut r = request();
        r.gpus = 1;
        let o = inference_service(&r, "s3://b/m", "kserve-mlserver", "object-storage", "maria");
        assert_eq!(o["spec"]["predictor"]["model"]["resources"]["limits"]["nvidia.com/gpu"], "1");
    }

    #[test]
    fn status_reads_as_ready_starting_or_failing() {
        let mut o = inference_service(&request(), "s3://b/m", "kserve-mlserver", "object-storage", "maria");
        assert_eq!(deployment(&o, vec![]).state, ServingState::Starting);
        o["status"] = json!({ "conditions": [
            { "type": "PredictorReady", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability." },
            { "type": "Ready", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability." },
        ]});
        let d = deployment(&o, vec![]);
        assert_eq!((d.state, d.reasons.len()), (ServingState::Starting, 0));
        let d = deployment(&o, vec!["Its pods would exceed the team's quota: cpu".into()]);
        assert_eq!(d.state, ServingState::Failing);
        assert_eq!(d.reasons, vec!["Its pods would exceed the team's quota: cpu".to_string()]);
        o["status"] = json!({ "url": "http://flight-delays-team-a.models.localhost", "conditions": [
            { "type": "PredictorReady", "status": "True" }, { "type": "Ready", "status": "True" },
        ]});
        let d = deployment(&o, vec![]);
        assert_eq!((d.state, d.url.as_str(), d.version.as_str(), d.cpu.as_str()), (ServingState::Ready, "http://flight-delays-team-a.models.localhost", "3", "500m"));
    }

    #[test]
    fn pod_refusals_are_said_in_words() {
        let q = refusal("FailedCreate", "Error creating: pods \"x\" is forbidden: exceeded quota: atrium-quota, requested: requests.cpu=2, used: requests.cpu=15, limited: requests.cpu=16").unwrap();
        assert!(q.starts_with("Its pods would exceed the team's quota"), "{q}");
        assert!(refusal("ScalingReplicaSet", "Scaled up replica set x to 1").is_none());
        assert!(refusal("FailedCreate", "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\"").unwrap().contains("Pod Security"));
    }
}
