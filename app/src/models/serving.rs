//! A deployment of a model version is a KServe `InferenceService`
//! (serving.kserve.io/v1beta1) in the team's namespace, written as the
//! person; KServe's own controller makes its Deployment and Service. This
//! file makes the object from what the person asked for and reads its
//! status back in words.

use super::model::{Canary, DeployRequest, Deployment, Revision, ServingState};
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
pub fn inference_service(req: &DeployRequest, storage: &str, runtime: &str, connection: &str, by: &str, at_ms: i64) -> Value {
    let mut limits = json!({ "cpu": req.cpu, "memory": req.memory });
    let mut requests = json!({ "cpu": req.cpu, "memory": req.memory });
    if req.gpus > 0 {
        limits["nvidia.com/gpu"] = json!(req.gpus.to_string());
        requests["nvidia.com/gpu"] = json!(req.gpus.to_string());
    }
    let deployed = [Revision { version: req.version.clone(), action: "deployed".into(), by: by.into(), at_ms }];
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
                HISTORY_ANNOTATION: serde_json::to_string(&deployed).unwrap_or_default(),
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
pub fn deployment(o: &Value, refusals: Vec<String>, gateway_splits: bool) -> Deployment {
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
    let canary = canary_version(o).map(|version| {
        let name = o["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = o["metadata"]["namespace"].as_str().unwrap_or_default();
        let status = o["status"]["canaryStatuses"].as_array().and_then(|c| c.first());
        let ready = status.is_some_and(|c| c["ready"] == true);
        Canary {
            address: format!("http://{name}-{}-predictor.{namespace}.svc.cluster.local", predictor_name(&version)),
            percent: o["spec"]["canary"][0]["trafficPercent"].as_u64().unwrap_or_default().min(100) as u8,
            state: if ready { ServingState::Ready } else { ServingState::Starting },
            version,
        }
    });
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
        traffic_note: canary.as_ref().filter(|_| !gateway_splits).map(|c| {
            format!(
                "Nothing on this cluster splits traffic between the two versions: requests to the address reach version {} only, and the canary (version {}) answers at its own address.",
                annotation(o, VERSION_ANNOTATION),
                c.version
            )
        }),
        canary,
        history: {
            let mut h = history(o);
            h.reverse();
            h
        },
        asks_approval: false,
        waiting: None,
    }
}

/// A V2 inference request with one row of zeros per input of the model
/// server's metadata (`GET /v2/models/<name>`, its model's signature):
/// a dimension of -1 (any number of rows) becomes 1.
pub fn example_request(metadata: &Value) -> Value {
    let inputs: Vec<Value> = metadata["inputs"]
        .as_array()
        .map(|inputs| {
            inputs
                .iter()
                .map(|i| {
                    let shape: Vec<i64> = i["shape"].as_array().map(|s| s.iter().map(|d| d.as_i64().unwrap_or(1).max(1)).collect()).unwrap_or_else(|| vec![1]);
                    let n = shape.iter().product::<i64>().clamp(1, 10_000) as usize;
                    let datatype = i["datatype"].as_str().unwrap_or("FP64");
                    let zero = match datatype {
                        "BYTES" => json!(""),
                        "BOOL" => json!(false),
                        t if t.starts_with("FP") => json!(0.0),
                        _ => json!(0),
                    };
                    json!({ "name": i["name"], "shape": shape, "datatype": datatype, "data": vec![zero; n] })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({ "inputs": inputs })
}

/// What a model server answered, for the inference panel: its outputs'
/// values in short, its error in its own words, or its answer laid out.
pub fn prediction(status: u16, answer: &Value, latency_ms: u64) -> crate::models::model::Prediction {
    let outputs = answer["outputs"]
        .as_array()
        .map(|o| {
            o.iter()
                .map(|o| {
                    let data = o["data"].to_string();
                    let short = if data.chars().count() > 300 { format!("{}…", data.chars().take(300).collect::<String>()) } else { data };
                    (o["name"].as_str().unwrap_or("output").to_string(), short)
                })
                .collect()
        })
        .unwrap_or_default();
    let response = match answer["error"].as_str() {
        Some(e) if !(200..300).contains(&status) => format!("The model server refused the request: {}", e.chars().take(500).collect::<String>()),
        _ => serde_json::to_string_pretty(answer).unwrap_or_default(),
    };
    crate::models::model::Prediction { status, response, outputs, latency_ms }
}

/// One Kubernetes event about one of a deployment's objects.
pub struct ObjectEvent<'a> {
    /// The object's kind and name (`ReplicaSet/x-predictor-5d…`).
    pub object: (&'a str, &'a str),
    /// When it last happened (any order-preserving number).
    pub at: i64,
    pub reason: &'a str,
    pub message: &'a str,
}

/// What keeps a deployment from running now, in words: for each of its
/// objects only the newest event counts, so a pod refused by the quota and
/// then created once room was made (`SuccessfulCreate`), or a pod that could
/// not be scheduled and then was, stops being a reason. At most `most`.
pub fn current_refusals(mut events: Vec<ObjectEvent<'_>>, most: usize) -> Vec<String> {
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
    let mut seen = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if seen.contains(&e.object) {
            continue;
        }
        seen.push(e.object);
        if let Some(r) = refusal(e.reason, e.message) {
            if !out.contains(&r) && out.len() < most {
                out.push(r);
            }
        }
    }
    out
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
        // KServe's pod webhook gives the model server the keys of the Secret
        // the deployment names, and refuses the pod when there is none.
        "FailedCreate" if message.contains("denied the request: secrets \"") && message.ends_with("not found") => {
            let name = message.split("secrets \"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
            Some(format!(
                "Its model server cannot be given the keys to read the model's files: the team has no data connection “{name}”. \
                 Whoever manages the team's data connections can add one by that name."
            ))
        }
        "FailedCreate" if message.contains("violates PodSecurity") => {
            Some("Its pods break the team's Pod Security rules (restricted); the serving runtime must run as non-root.".into())
        }
        "FailedCreate" | "FailedScheduling" => Some(format!("Kubernetes cannot start its pods: {}", message.chars().take(300).collect::<String>())),
        "ErrImagePull" | "ImagePullBackOff" | "Failed" if message.contains("image") => {
            Some(format!("Its server image cannot be pulled: {}", message.chars().take(300).collect::<String>()))
        }
        // KServe says InternalError too when two of its status writes cross
        // ("the object has been modified"); it tries again by itself.
        "InternalError" if message.contains("the object has been modified") => None,
        "InternalError" | "ServingRuntimeNotFound" => Some(message.chars().take(300).collect()),
        _ => None,
    }
}

/// The version a deployment's canary serves, while it has one.
pub const CANARY_VERSION_ANNOTATION: &str = "atrium.io/canary-version";
/// What was done to a deployment, oldest first (JSON: [`Revision`]s).
pub const HISTORY_ANNOTATION: &str = "atrium.io/history";
/// Revisions kept in the history at most (older ones are in the audit trail).
pub const HISTORY_KEPT: usize = 30;

/// The name KServe gives a predictor's Deployment: `<isvc>-<name>-predictor`
/// (a stable predictor without a name: `<isvc>-predictor`).
pub fn predictor_name(version: &str) -> String {
    format!("v{version}")
}

fn history(o: &Value) -> Vec<Revision> {
    o["metadata"]["annotations"][HISTORY_ANNOTATION].as_str().and_then(|h| serde_json::from_str(h).ok()).unwrap_or_default()
}

fn record(o: &mut Value, revision: Revision) {
    let mut all = history(o);
    all.push(revision);
    if all.len() > HISTORY_KEPT {
        all.drain(..all.len() - HISTORY_KEPT);
    }
    o["metadata"]["annotations"][HISTORY_ANNOTATION] = json!(serde_json::to_string(&all).unwrap_or_default());
}

fn canary_version(o: &Value) -> Option<String> {
    o["metadata"]["annotations"][CANARY_VERSION_ANNOTATION].as_str().filter(|v| !v.is_empty()).map(String::from)
}

/// Starts (or moves) a canary: `version` served beside the stable one by a
/// second predictor with the same resources, `percent` of the traffic
/// asked of the cluster's gateway.
pub fn with_canary(o: &Value, version: &str, storage: &str, percent: u8, by: &str, at_ms: i64) -> Result<Value, String> {
    if percent > 100 {
        return Err(format!("A canary takes 0 to 100 % of the traffic, not {percent} %."));
    }
    let stable = annotation(o, VERSION_ANNOTATION);
    if stable == version {
        return Err(format!("Version {version} is already the one served; roll out another version as the canary."));
    }
    let mut out = o.clone();
    let mut predictor = o["spec"]["predictor"].clone();
    predictor["name"] = json!(predictor_name(version));
    predictor["model"]["storageUri"] = json!(storage);
    // A canary runs a fixed number of replicas (KServe's validator refuses
    // `maxReplicas` on one): as many as the stable version's fewest.
    if let Some(p) = predictor.as_object_mut() {
        p.remove("maxReplicas");
    }
    out["spec"]["canary"] = json!([{ "predictor": predictor, "trafficPercent": percent }]);
    out["metadata"]["annotations"][CANARY_VERSION_ANNOTATION] = json!(version);
    record(&mut out, Revision { version: version.into(), action: format!("canary at {percent} %"), by: by.into(), at_ms });
    Ok(out)
}

/// The canary becomes the deployment: its predictor (and its pods, under
/// the same name) serves all traffic, and the previous one goes.
pub fn promoted(o: &Value, by: &str, at_ms: i64) -> Result<Value, String> {
    let Some(version) = canary_version(o) else { return Err("This deployment has no canary to promote.".into()) };
    let Some(canary) = o["spec"]["canary"][0]["predictor"].as_object() else { return Err("This deployment has no canary to promote.".into()) };
    let mut out = o.clone();
    out["spec"]["predictor"] = Value::Object(canary.clone());
    if let Some(spec) = out["spec"].as_object_mut() {
        spec.remove("canary");
    }
    out["metadata"]["annotations"][VERSION_ANNOTATION] = json!(version);
    if let Some(a) = out["metadata"]["annotations"].as_object_mut() {
        a.remove(CANARY_VERSION_ANNOTATION);
    }
    record(&mut out, Revision { version, action: "promoted to 100 %".into(), by: by.into(), at_ms });
    Ok(out)
}

/// The canary goes; the stable version keeps serving as it did.
pub fn without_canary(o: &Value, by: &str, at_ms: i64) -> Result<Value, String> {
    let Some(version) = canary_version(o) else { return Err("This deployment has no canary to roll back.".into()) };
    let mut out = o.clone();
    if let Some(spec) = out["spec"].as_object_mut() {
        spec.remove("canary");
    }
    if let Some(a) = out["metadata"]["annotations"].as_object_mut() {
        a.remove(CANARY_VERSION_ANNOTATION);
    }
    record(&mut out, Revision { version, action: "canary rolled back".into(), by: by.into(), at_ms });
    Ok(out)
}

/// Serves an earlier `version` again (a rolling update of the stable
/// predictor); refused while a canary runs (promote or roll it back first).
pub fn at_version(o: &Value, version: &str, storage: &str, by: &str, at_ms: i64) -> Result<Value, String> {
    if canary_version(o).is_some() {
        return Err("Promote or roll back the canary first.".into());
    }
    if annotation(o, VERSION_ANNOTATION) == version {
        return Err(format!("Version {version} is already the one served."));
    }
    let mut out = o.clone();
    out["spec"]["predictor"]["model"]["storageUri"] = json!(storage);
    out["metadata"]["annotations"][VERSION_ANNOTATION] = json!(version);
    record(&mut out, Revision { version: version.into(), action: "rolled back to".into(), by: by.into(), at_ms });
    Ok(out)
}

/// A ClusterServingRuntime as the deploy form offers it (name, label), if
/// it serves MLflow models and is not disabled. The label is the display
/// name its annotation gives (as Open Data Hub names runtimes), else its
/// name.
pub fn offered_runtime(o: &Value) -> Option<(String, String)> {
    let spec = &o["spec"];
    if spec["disabled"] == true {
        return None;
    }
    let serves_mlflow = spec["supportedModelFormats"].as_array().is_some_and(|f| f.iter().any(|f| f["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("mlflow"))));
    let v2 = spec["protocolVersions"].as_array().is_none_or(|p| p.iter().any(|p| p == "v2"));
    let name = o["metadata"]["name"].as_str().filter(|n| !n.is_empty())?;
    let label = o["metadata"]["annotations"]["openshift.io/display-name"].as_str().filter(|l| !l.trim().is_empty()).unwrap_or(name);
    (serves_mlflow && v2).then(|| (name.to_string(), label.trim().to_string()))
}

/// One of a deployment's predictors: the version it serves, whether it is
/// the canary, the share of traffic asked for it, and the `app` label
/// KServe gives its pods (`isvc.<Deployment name>`).
#[derive(Debug, PartialEq)]
pub struct Predictor {
    pub version: String,
    pub canary: bool,
    pub percent: u8,
    pub app: String,
}

/// The stable predictor, then the canary's (if any), of an InferenceService.
pub fn predictors(o: &Value) -> Vec<Predictor> {
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    // KServe names a predictor's Deployment `<isvc>-predictor`, or
    // `<isvc>-<predictor name>-predictor` for a named one.
    let app = |predictor: &Value| match predictor["name"].as_str().filter(|n| !n.is_empty()) {
        Some(p) => format!("isvc.{name}-{p}-predictor"),
        None => format!("isvc.{name}-predictor"),
    };
    let canary = canary_version(o).map(|version| Predictor {
        version,
        canary: true,
        percent: o["spec"]["canary"][0]["trafficPercent"].as_u64().unwrap_or_default().min(100) as u8,
        app: app(&o["spec"]["canary"][0]["predictor"]),
    });
    let stable = Predictor {
        version: annotation(o, VERSION_ANNOTATION).into(),
        canary: false,
        percent: 100 - canary.as_ref().map(|c| c.percent).unwrap_or_default(),
        app: app(&o["spec"]["predictor"]),
    };
    std::iter::once(stable).chain(canary).collect()
}

/// The inference requests a model server has answered and failed since it
/// started, from its Prometheus metrics (MLServer's
/// `model_infer_request_success` and `_failure` counters, summed over its
/// models and versions).
pub fn request_counts(metrics: &str) -> (u64, u64) {
    let (mut answered, mut failed) = (0.0f64, 0.0f64);
    for line in metrics.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let rest = match line[name_end..].strip_prefix('{') {
            Some(labelled) => labelled.rsplit_once('}').map(|(_, r)| r).unwrap_or_default(),
            None => &line[name_end..],
        };
        let Some(value) = rest.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0) else { continue };
        match line[..name_end].trim_end_matches("_total") {
            "model_infer_request_success" => answered += value,
            "model_infer_request_failure" => failed += value,
            _ => {}
        }
    }
    (answered as u64, failed as u64)
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
            runtime: String::new(),
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
        let o = inference_service(&request(), "s3://b/m", "kserve-mlserver", "object-storage", "maria", 1);
        assert_eq!(o["metadata"]["annotations"][MODEL_ANNOTATION], "Flight_Delays");
        assert_eq!(o["metadata"]["annotations"][VERSION_ANNOTATION], "3");
        assert_eq!(o["metadata"]["annotations"]["serving.kserve.io/storageSecretName"], "object-storage");
        assert_eq!(o["spec"]["predictor"]["model"]["modelFormat"]["name"], "mlflow");
        assert_eq!(o["spec"]["predictor"]["model"]["runtime"], "kserve-mlserver");
        assert_eq!(o["spec"]["predictor"]["maxReplicas"], 3);
        assert!(o["spec"]["predictor"]["model"]["resources"]["limits"].get("nvidia.com/gpu").is_none());
        let mut r = request();
        r.gpus = 1;
        let o = inference_service(&r, "s3://b/m", "kserve-mlserver", "object-storage", "maria", 1);
        assert_eq!(o["spec"]["predictor"]["model"]["resources"]["limits"]["nvidia.com/gpu"], "1");
    }

    #[test]
    fn status_reads_as_ready_starting_or_failing() {
        let mut o = inference_service(&request(), "s3://b/m", "kserve-mlserver", "object-storage", "maria", 1);
        assert_eq!(deployment(&o, vec![], false).state, ServingState::Starting);
        o["status"] = json!({ "conditions": [
            { "type": "PredictorReady", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability." },
            { "type": "Ready", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability." },
        ]});
        let d = deployment(&o, vec![], false);
        assert_eq!((d.state, d.reasons.len()), (ServingState::Starting, 0));
        let d = deployment(&o, vec!["Its pods would exceed the team's quota: cpu".into()], false);
        assert_eq!(d.state, ServingState::Failing);
        assert_eq!(d.reasons, vec!["Its pods would exceed the team's quota: cpu".to_string()]);
        o["status"] = json!({ "url": "http://flight-delays-team-a.models.localhost", "conditions": [
            { "type": "PredictorReady", "status": "True" }, { "type": "Ready", "status": "True" },
        ]});
        let d = deployment(&o, vec![], false);
        assert_eq!((d.state, d.url.as_str(), d.version.as_str(), d.cpu.as_str()), (ServingState::Ready, "http://flight-delays-team-a.models.localhost", "3", "500m"));
    }

    #[test]
    fn a_canary_is_a_second_predictor_promoted_or_rolled_back_in_one_rewrite() {
        let o = inference_service(&request(), "s3://b/v3", "kserve-mlserver", "object-storage", "maria", 1);
        assert!(with_canary(&o, "3", "s3://b/v3", 20, "maria", 2).unwrap_err().contains("already the one served"));
        assert!(with_canary(&o, "4", "s3://b/v4", 101, "maria", 2).is_err());
        let c = with_canary(&o, "4", "s3://b/v4", 20, "maria", 2).unwrap();
        assert_eq!(c["spec"]["canary"][0]["trafficPercent"], 20);
        assert_eq!(c["spec"]["canary"][0]["predictor"]["name"], "v4");
        assert!(c["spec"]["canary"][0]["predictor"].get("maxReplicas").is_none(), "a canary's replicas are fixed");
        assert_eq!(c["spec"]["canary"][0]["predictor"]["model"]["storageUri"], "s3://b/v4");
        assert_eq!(c["spec"]["predictor"]["model"]["storageUri"], "s3://b/v3", "the stable one unchanged");
        let d = deployment(&c, vec![], false);
        let canary = d.canary.clone().unwrap();
        assert_eq!((canary.version.as_str(), canary.percent, canary.state), ("4", 20, ServingState::Starting));
        assert_eq!(canary.address, "http://flight-delays-v4-predictor.team-a.svc.cluster.local");
        assert!(d.traffic_note.unwrap().contains("reach version 3 only"));
        assert!(deployment(&c, vec![], true).traffic_note.is_none(), "a gateway that splits needs no note");
        assert!(at_version(&c, "2", "s3://b/v2", "maria", 3).is_err(), "no rollback under a canary");

        let p = promoted(&c, "tom", 3).unwrap();
        assert!(p["spec"].get("canary").is_none());
        assert_eq!(p["spec"]["predictor"]["name"], "v4");
        assert_eq!(p["spec"]["predictor"]["model"]["storageUri"], "s3://b/v4");
        let d = deployment(&p, vec![], false);
        assert_eq!((d.version.as_str(), d.canary.is_none()), ("4", true));
        let actions: Vec<(String, String)> = d.history.iter().map(|r| (r.version.clone(), r.action.clone())).collect();
        assert_eq!(actions, [("4".into(), "promoted to 100 %".into()), ("4".into(), "canary at 20 %".into()), ("3".into(), "deployed".into())]);
        assert!(promoted(&p, "tom", 4).is_err(), "nothing left to promote");

        let r = without_canary(&c, "maria", 3).unwrap();
        assert!(r["spec"].get("canary").is_none());
        assert_eq!(deployment(&r, vec![], false).version, "3");
        let back = at_version(&p, "3", "s3://b/v3", "maria", 5).unwrap();
        assert_eq!(back["spec"]["predictor"]["model"]["storageUri"], "s3://b/v3");
        assert_eq!(deployment(&back, vec![], false).history[0].action, "rolled back to");
    }

    #[test]
    fn each_predictor_is_found_by_the_label_kserve_gives_its_pods() {
        let o = inference_service(&request(), "s3://b/v3", "kserve-mlserver", "object-storage", "maria", 1);
        let only = predictors(&o);
        assert_eq!(only, vec![Predictor { version: "3".into(), canary: false, percent: 100, app: "isvc.flight-delays-predictor".into() }]);
        let c = with_canary(&o, "4", "s3://b/v4", 20, "maria", 2).unwrap();
        let both = predictors(&c);
        assert_eq!((both[0].percent, both[1].percent), (80, 20));
        assert_eq!((both[1].version.as_str(), both[1].canary, both[1].app.as_str()), ("4", true, "isvc.flight-delays-v4-predictor"));
        // Promoted, the stable predictor is the canary's, by its name.
        assert_eq!(predictors(&promoted(&c, "tom", 3).unwrap())[0].app, "isvc.flight-delays-v4-predictor");
    }

    #[test]
    fn the_catalog_offers_runtimes_that_serve_mlflow_models_over_v2() {
        let runtime = |name: &str, formats: Value, extra: Value| {
            let mut o = json!({ "metadata": { "name": name }, "spec": { "supportedModelFormats": formats, "protocolVersions": ["v2"] } });
            if let (Some(spec), Some(extra)) = (o["spec"].as_object_mut(), extra.as_object()) {
                spec.extend(extra.clone());
            }
            o
        };
        let mlserver = runtime("kserve-mlserver", json!([{ "name": "sklearn" }, { "name": "mlflow", "version": "2" }]), json!({}));
        assert_eq!(offered_runtime(&mlserver), Some(("kserve-mlserver".into(), "kserve-mlserver".into())));
        let mut labelled = mlserver.clone();
        labelled["metadata"]["annotations"] = json!({ "openshift.io/display-name": "MLServer (GPU)" });
        assert_eq!(offered_runtime(&labelled).unwrap().1, "MLServer (GPU)");
        assert_eq!(offered_runtime(&runtime("kserve-sklearnserver", json!([{ "name": "sklearn" }]), json!({}))), None, "no MLflow");
        assert_eq!(offered_runtime(&runtime("off", json!([{ "name": "mlflow" }]), json!({ "disabled": true }))), None, "disabled");
        assert_eq!(offered_runtime(&runtime("v1-only", json!([{ "name": "mlflow" }]), json!({ "protocolVersions": ["v1"] }))), None, "the panel speaks V2");
    }

    #[test]
    fn request_counts_come_from_the_model_servers_metrics() {
        // As MLServer 1.7 writes them (prometheus_client), with other series around.
        let metrics = r#"# HELP model_infer_request_success_total Model infer request success count
# TYPE model_infer_request_success_total counter
model_infer_request_success_total{model="flight-delays",version="3"} 41.0
model_infer_request_success_created{model="flight-delays",version="3"} 1.7964e+09
model_infer_request_success_total{model="flight-delays",version=""} 1.0
# TYPE model_infer_request_failure_total counter
model_infer_request_failure_total{model="flight-delays",version="3"} 2.0 1796400000000
rest_server_requests_total{method="POST",path="/v2/models/flight-delays/infer",status_code="200"} 44.0
model_infer_request_duration_count{model="flight-delays",version="3"} 43.0
"#;
        assert_eq!(request_counts(metrics), (42, 2));
        assert_eq!(request_counts(""), (0, 0));
        assert_eq!(request_counts("model_infer_request_success_total{model=\"a}b\"} NaN\nmodel_infer_request_success 5"), (5, 0));
        let traffic = |a: u64, b: u64| crate::models::model::Traffic {
            versions: vec![
                crate::models::model::VersionTraffic { version: "3".into(), answered: a, ..Default::default() },
                crate::models::model::VersionTraffic { version: "4".into(), canary: true, answered: b, ..Default::default() },
            ],
        };
        assert_eq!(traffic(0, 0).served_permille(), None, "no share before any request");
        assert_eq!(traffic(2, 1).served_permille(), Some(vec![667, 333]));
        assert_eq!(traffic(80, 20).served_permille(), Some(vec![800, 200]));
    }

    #[test]
    fn pod_refusals_are_said_in_words() {
        let q = refusal("FailedCreate", "Error creating: pods \"x\" is forbidden: exceeded quota: atrium-quota, requested: requests.cpu=2, used: requests.cpu=15, limited: requests.cpu=16").unwrap();
        assert!(q.starts_with("Its pods would exceed the team's quota"), "{q}");
        assert!(refusal("ScalingReplicaSet", "Scaled up replica set x to 1").is_none());
        // (The inference panel's helpers are checked in `inference_requests_and_answers`.)
        // Seen in CI: KServe's own status writes crossing is no reason a deployment fails.
        assert!(refusal("InternalError", "fails to update InferenceService status: Operation cannot be fulfilled on inferenceservices.serving.kserve.io \"m\": the object has been modified; please apply your changes to the latest version and try again").is_none());
        assert!(refusal("InternalError", "fails to reconcile predictor: no runtime found").is_some());
        // Only each object's newest event counts: a refusal made good is no reason any more.
        let ev = |kind, name, at, reason, message| ObjectEvent { object: (kind, name), at, reason, message };
        let quota = "Error creating: pods \"x\" is forbidden: exceeded quota: atrium-quota, requested: pods=1, used: pods=40, limited: pods=40";
        let made_good = vec![ev("ReplicaSet", "d-v1-predictor-1", 10, "FailedCreate", quota), ev("ReplicaSet", "d-v1-predictor-1", 20, "SuccessfulCreate", "Created pod: x")];
        assert!(current_refusals(made_good, 3).is_empty());
        let still = vec![ev("ReplicaSet", "d-v1-predictor-1", 30, "FailedCreate", quota), ev("ReplicaSet", "d-v1-predictor-1", 20, "SuccessfulCreate", "Created pod: x"), ev("Pod", "x", 25, "FailedScheduling", "0/3 nodes are available")];
        let r = current_refusals(still, 3);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].contains("quota") && r[1].contains("cannot start"), "{r:?}");
        assert!(refusal("FailedCreate", "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\"").unwrap().contains("Pod Security"));
        // As KServe v0.20's pod webhook refuses a predictor's pod when the team lacks the Secret.
        let keys = refusal(
            "FailedCreate",
            "Error creating: admission webhook \"inferenceservice.kserve-webhook-server.pod-mutator\" denied the request: secrets \"object-storage\" not found",
        )
        .unwrap();
        assert!(keys.contains("no data connection “object-storage”"), "{keys}");
        assert!(!keys.contains("webhook"), "no internals: {keys}");
    }

    #[test]
    fn inference_requests_and_answers() {
        // MLServer's metadata for a scikit-learn model logged with a 2-column input example.
        let metadata = json!({ "name": "m", "inputs": [{ "name": "input-0", "datatype": "FP64", "shape": [-1, 2] }] });
        let example = example_request(&metadata);
        assert_eq!(example, json!({ "inputs": [{ "name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": [0.0, 0.0] }] }));
        assert!(crate::models::model::check_inference_request(&example.to_string()).is_ok());
        assert!(crate::models::model::check_inference_request("{\"inputs\": []}").unwrap_err().contains("“inputs” list"));
        assert!(crate::models::model::check_inference_request("{\"inputs\": [{\"name\": \"a\"}]}").unwrap_err().contains("Input 1 has no “shape”"));
        assert!(crate::models::model::check_inference_request("[1,").unwrap_err().starts_with("The request is not JSON"));
        let answered = prediction(200, &json!({ "model_name": "m", "outputs": [{ "name": "output-1", "shape": [1, 1], "datatype": "FP64", "data": [2.9999999999999996] }] }), 12);
        assert_eq!((answered.outputs.clone(), answered.latency_ms), (vec![("output-1".to_string(), "[2.9999999999999996]".to_string())], 12));
        let refused = prediction(400, &json!({ "error": "shape mismatch: expected 2 columns" }), 3);
        assert_eq!(refused.response, "The model server refused the request: shape mismatch: expected 2 columns");
        assert!(refused.outputs.is_empty());
    }
}