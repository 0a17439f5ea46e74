//! Retrying a failed run in place, as Argo's own `argo retry` does (its
//! `FormulateRetryWorkflow`, for the DAG runs the portal makes): the failed
//! steps and everything after them start again, the steps that succeeded
//! are kept with their results. The run's object is rewritten as the
//! person; the failed steps' pods must be deleted first (Argo remakes them
//! under the same names), which the API layer does, also as the person.

use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// What a retry changes: the run as it is to be written, and the IDs of
/// the Pod nodes whose pods must go first.
#[derive(Debug)]
pub struct Retry {
    pub run: Value,
    pub pod_nodes: BTreeSet<String>,
}

/// The retry of `run` (a Workflow as JSON) at time `now` (RFC 3339), or why
/// it cannot be retried, in words.
pub fn plan(run: &Value, now: &str) -> Result<Retry, String> {
    let phase = run["status"]["phase"].as_str().unwrap_or("Pending");
    if !matches!(phase, "Failed" | "Error") {
        return Err(match phase {
            "Succeeded" => "This run succeeded: there is nothing to retry (run it again instead).".into(),
            "Pending" | "Running" | "" => "This run is still going: stop it first, or wait for it to end.".into(),
            other => format!("A run that is {other} cannot be retried."),
        });
    }
    let empty = Map::new();
    let nodes = run["status"]["nodes"].as_object().unwrap_or(&empty);
    let mut parent: HashMap<&str, &str> = HashMap::new();
    for (id, n) in nodes {
        for c in n["children"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            parent.insert(c, id.as_str());
        }
    }
    let is = |id: &str, kind: &str| nodes.get(id).is_some_and(|n| n["type"] == kind);
    // The failed steps: failed pods, or their Retry node when the step has tries.
    let failed: BTreeSet<&str> = nodes
        .iter()
        .filter(|(_, n)| n["type"] == "Pod" && matches!(n["phase"].as_str(), Some("Failed" | "Error")))
        .map(|(id, _)| match parent.get(id.as_str()) {
            Some(p) if is(p, "Retry") => *p,
            _ => id.as_str(),
        })
        .collect();
    if failed.is_empty() {
        return Err("No step of this run failed (it ended for another reason): run it again instead.".into());
    }
    // They and everything after them go; the groups around them run again.
    let mut gone: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = failed.iter().copied().collect();
    while let Some(id) = queue.pop_front() {
        if gone.insert(id) {
            queue.extend(nodes.get(id).into_iter().flat_map(|n| n["children"].as_array().into_iter().flatten().filter_map(Value::as_str)));
        }
    }
    let mut reset: BTreeSet<&str> = BTreeSet::new();
    for id in &failed {
        let mut boundary = nodes.get(*id).and_then(|n| n["boundaryID"].as_str());
        while let Some(b) = boundary.filter(|b| !b.is_empty() && !gone.contains(b) && reset.insert(b)) {
            boundary = nodes.get(b).and_then(|n| n["boundaryID"].as_str());
        }
    }
    let keep = |list: &Value| json!(list.as_array().into_iter().flatten().filter(|c| c.as_str().is_some_and(|c| !gone.contains(c))).collect::<Vec<_>>());
    let mut kept = Map::new();
    for (id, n) in nodes.iter().filter(|(id, _)| !gone.contains(id.as_str())) {
        let mut n = n.clone();
        if n.get("children").is_some() {
            n["children"] = keep(&n["children"]);
        }
        if n.get("outboundNodes").is_some() {
            n["outboundNodes"] = keep(&n["outboundNodes"]);
        }
        if reset.contains(id.as_str()) {
            n["phase"] = json!("Running");
            n["startedAt"] = json!(now);
            if let Some(o) = n.as_object_mut() {
                o.remove("message");
                o.remove("finishedAt");
            }
        }
        kept.insert(id.clone(), n);
    }
    let pod_nodes = gone.iter().filter(|id| is(id, "Pod")).map(|id| id.to_string()).collect();

    let mut next = run.clone();
    if let Some(labels) = next["metadata"]["labels"].as_object_mut() {
        labels.remove("workflows.argoproj.io/completed");
        labels.remove("workflows.argoproj.io/workflow-archiving-status");
    }
    if let Some(spec) = next["spec"].as_object_mut() {
        spec.remove("shutdown");
        if spec.get("activeDeadlineSeconds") == Some(&json!(0)) {
            spec.remove("activeDeadlineSeconds");
        }
    }
    let status = &mut next["status"];
    if let Some(stored) = status["storedWorkflowTemplateSpec"].as_object_mut() {
        stored.remove("shutdown");
    }
    if let Some(results) = status["taskResultsCompletionStatus"].as_object_mut() {
        results.retain(|id, _| !gone.contains(id.as_str()));
    }
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    conditions.retain(|c| c["type"] != "Completed");
    conditions.push(json!({ "type": "Completed", "status": "False" }));
    status["conditions"] = json!(conditions);
    status["nodes"] = Value::Object(kept);
    status["startedAt"] = json!(now);
    if let Some(s) = status.as_object_mut() {
        // Argo's "Unknown" phase: the controller takes the run up again.
        s.remove("phase");
        s.remove("message");
        s.remove("finishedAt");
        s.remove("persistentVolumeClaims");
    }
    Ok(Retry { run: next, pod_nodes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of fetch → clean → train where clean failed (after one try
    /// more, through its Retry node) and train never ran.
    fn failed_run() -> Value {
        json!({
            "metadata": { "name": "etl-1", "labels": { "workflows.argoproj.io/completed": "true", "atrium.io/x": "y" } },
            "spec": { "workflowTemplateRef": { "name": "etl" }, "shutdown": "Terminate" },
            "status": {
                "phase": "Failed", "message": "child 'etl-1-2' failed", "finishedAt": "2026-11-30T10:01:00Z",
                "conditions": [{ "type": "PodRunning", "status": "False" }, { "type": "Completed", "status": "True" }],
                "taskResultsCompletionStatus": { "etl-1-1": true, "etl-1-3": true },
                "nodes": {
                    "etl-1": { "type": "DAG", "phase": "Failed", "children": ["etl-1-1"], "outboundNodes": ["etl-1-5"], "finishedAt": "x", "message": "m" },
                    "etl-1-1": { "type": "Pod", "phase": "Succeeded", "boundaryID": "etl-1", "children": ["etl-1-2"] },
                    "etl-1-2": { "type": "Retry", "phase": "Failed", "boundaryID": "etl-1", "children": ["etl-1-3", "etl-1-4", "etl-1-5"] },
                    "etl-1-3": { "type": "Pod", "phase": "Failed", "boundaryID": "etl-1", "children": [] },
                    "etl-1-4": { "type": "Pod", "phase": "Failed", "boundaryID": "etl-1", "children": ["etl-1-5"] },
                    "etl-1-5": { "type": "Skipped", "phase": "Omitted", "boundaryID": "etl-1" }
                }
            }
        })
    }

    #[test]
    fn the_failed_step_and_what_follows_start_again_and_the_rest_is_kept() {
        let r = plan(&failed_run(), "2026-11-30T11:00:00Z").unwrap();
        let nodes = r.run["status"]["nodes"].as_object().unwrap();
        assert_eq!(nodes.keys().collect::<Vec<_>>(), ["etl-1", "etl-1-1"], "fetch is kept; clean's tries and train go");
        assert_eq!(r.pod_nodes.iter().collect::<Vec<_>>(), ["etl-1-3", "etl-1-4"], "the pods of both tries go");
        assert_eq!(nodes["etl-1"]["phase"], "Running");
        assert!(nodes["etl-1"].get("finishedAt").is_none() && nodes["etl-1"].get("message").is_none());
        assert_eq!(nodes["etl-1"]["outboundNodes"], json!([]));
        assert_eq!(nodes["etl-1-1"]["children"], json!([]), "no link to what went");
        assert_eq!(nodes["etl-1-1"]["phase"], "Succeeded");
        let status = &r.run["status"];
        assert!(status.get("phase").is_none() && status.get("finishedAt").is_none() && status.get("message").is_none());
        assert_eq!(status["taskResultsCompletionStatus"], json!({ "etl-1-1": true }));
        assert_eq!(status["conditions"], json!([{ "type": "PodRunning", "status": "False" }, { "type": "Completed", "status": "False" }]));
        assert_eq!(r.run["metadata"]["labels"], json!({ "atrium.io/x": "y" }));
        assert!(r.run["spec"].get("shutdown").is_none());
    }

    #[test]
    fn only_a_failed_run_is_retried() {
        let mut run = failed_run();
        run["status"]["phase"] = json!("Succeeded");
        assert!(plan(&run, "now").unwrap_err().contains("run it again"));
        run["status"]["phase"] = json!("Running");
        assert!(plan(&run, "now").unwrap_err().contains("still going"));
        let mut run = failed_run();
        for n in run["status"]["nodes"].as_object_mut().unwrap().values_mut() {
            if n["phase"] == "Failed" {
                n["phase"] = json!("Succeeded");
            }
        }
        assert!(plan(&run, "now").unwrap_err().contains("No step of this run failed"));
    }
}
