//! "Why isn't it running?": a notebook's phase and, when it is not running,
//! the reason in plain words, from its pod's state and the Warning events of
//! the pod and of what makes the pod (StatefulSet, Notebook).

use super::model::Phase;
use k8s_openapi::api::core::v1::{Event, Pod};

/// What is known about one notebook.
pub struct Observed<'a> {
    /// Asked to be stopped (zero replicas, or Kubeflow's stopped annotation).
    pub stopped: bool,
    pub pod: Option<&'a Pod>,
    /// Warning events about the pod or its owner, any order.
    pub events: Vec<&'a Event>,
}

pub fn phase_of(o: &Observed) -> (Phase, Option<String>) {
    let Some(pod) = o.pod.filter(|p| p.status.is_some() || p.spec.is_some()) else {
        if o.stopped {
            return (Phase::Stopped, None);
        }
        // No pod yet: the controller may be refused (quota, admission).
        return match latest(&o.events, &["FailedCreate"]) {
            Some(e) => (Phase::Failed, Some(create_refusal(e.message.as_deref().unwrap_or("")))),
            None => (Phase::Pending, Some("Waiting for Kubernetes to create the notebook's pod.".into())),
        };
    };
    if o.stopped || pod.metadata.deletion_timestamp.is_some() {
        return (if o.stopped { Phase::Stopping } else { Phase::Pending }, None);
    }
    let status = pod.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    if let Some(c) = conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
        let message = c.message.as_deref().unwrap_or("");
        return (Phase::Pending, Some(unschedulable(message)));
    }
    for cs in status.container_statuses.iter().flatten() {
        let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
        let reason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
        let message = waiting.and_then(|w| w.message.as_deref()).unwrap_or("");
        match reason {
            "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull" => {
                return (Phase::Failed, Some(image_pull(&cs.image, message)));
            }
            "CrashLoopBackOff" | "RunContainerError" | "CreateContainerConfigError" | "CreateContainerError" => {
                let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
                let exit = last.map(|t| format!(" (last exit code {})", t.exit_code)).unwrap_or_default();
                let text = match reason {
                    "CrashLoopBackOff" => format!(
                        "The notebook server keeps crashing: it has restarted {} times{exit}. Its last log lines are on the notebook's page.",
                        cs.restart_count
                    ),
                    _ => format!("The container cannot start: {}", if message.is_empty() { reason } else { message }),
                };
                return (Phase::Failed, Some(text));
            }
            _ => {}
        }
    }
    if let Some(e) = latest(&o.events, &["FailedMount", "FailedAttachVolume"]) {
        return (Phase::Pending, Some(format!("The workspace volume cannot be attached: {}", e.message.as_deref().unwrap_or(""))));
    }
    let ready = conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
    match status.phase.as_deref() {
        Some("Running") if ready => (Phase::Running, None),
        Some("Running") => (Phase::Starting, Some("The notebook server is starting.".into())),
        Some("Failed") => (Phase::Failed, Some(status.message.unwrap_or_else(|| "The pod failed.".into()))),
        _ if pod.spec.as_ref().is_some_and(|s| s.node_name.is_some()) => {
            (Phase::Starting, Some("Pulling the image and starting the container.".into()))
        }
        _ => (Phase::Pending, Some("Waiting for a node.".into())),
    }
}

fn latest<'a>(events: &[&'a Event], reasons: &[&str]) -> Option<&'a Event> {
    events
        .iter()
        .filter(|e| e.reason.as_deref().is_some_and(|r| reasons.contains(&r)))
        .max_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0).or(e.event_time.as_ref().map(|t| t.0)))
        .copied()
}

/// "0/3 nodes are available: 3 Insufficient nvidia.com/gpu." → which resource is short.
pub fn unschedulable(message: &str) -> String {
    let mut short: Vec<String> = message
        .split("Insufficient ")
        .skip(1)
        .filter_map(|rest| rest.split([' ', ',']).next())
        .map(|r| r.trim_end_matches('.').to_string())
        .collect();
    short.dedup();
    if !short.is_empty() {
        let names: Vec<&str> = short.iter().map(|r| resource_words(r)).collect();
        return format!(
            "No node has enough {} free for this notebook. Choose a smaller size or fewer GPUs, or wait until others stop theirs.",
            names.join(" or ")
        );
    }
    if message.contains("untolerated taint") || message.contains("didn't match Pod's node affinity") {
        return "No node accepts this notebook (its node selection or taints do not match any node).".into();
    }
    if message.contains("persistentvolumeclaim") {
        return format!("Its workspace volume is not ready: {message}");
    }
    format!("Waiting for a node: {message}")
}

fn resource_words(r: &str) -> &str {
    match r {
        "cpu" => "CPU",
        "memory" => "memory",
        "nvidia.com/gpu" => "GPUs (nvidia.com/gpu)",
        "pods" => "pod slots",
        other => other,
    }
}

fn image_pull(image: &str, message: &str) -> String {
    let why = if message.contains("not found") || message.contains("manifest unknown") {
        "it does not exist (check the name and tag)".to_string()
    } else if message.contains("unauthorized") || message.contains("denied") {
        "the registry refused access (a pull secret may be missing)".to_string()
    } else if message.is_empty() {
        "the registry could not be reached or refused it".to_string()
    } else {
        message.to_string()
    };
    format!("The image {image} cannot be pulled: {why}.")
}

/// A controller's refused pod creation, e.g. quota.
fn create_refusal(message: &str) -> String {
    if let Some((_, detail)) = message.split_once("exceeded quota:") {
        let detail = detail.split_once(',').map(|(_, d)| d.trim()).unwrap_or(detail.trim());
        return format!("The team's quota is used up, so the pod cannot start: {detail}.");
    }
    if message.contains("maximum") && message.contains("LimitRange") || message.contains("must be less than or equal") {
        return format!("The team's limits refuse this size: {}", after_forbidden(message));
    }
    format!("Kubernetes refused to create the pod: {}", after_forbidden(message))
}

fn after_forbidden(message: &str) -> &str {
    message.split_once("is forbidden: ").map(|(_, m)| m).unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "nb-0"}, "spec": {"containers": [], "nodeName": "n1"}, "status": status}))
            .unwrap()
    }

    fn event(reason: &str, message: &str) -> Event {
        serde_json::from_value(json!({"metadata": {"name": "e"}, "involvedObject": {}, "reason": reason, "message": message, "type": "Warning"}))
            .unwrap()
    }

    fn observe(stopped: bool, pod: Option<&Pod>, events: Vec<&Event>) -> (Phase, Option<String>) {
        phase_of(&Observed { stopped, pod, events })
    }

    #[test]
    fn running_and_ready() {
        let p = pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(observe(false, Some(&p), vec![]), (Phase::Running, None));
    }

    #[test]
    fn unschedulable_names_the_short_resource() {
        let p = pod(json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."}]}));
        let (phase, reason) = observe(false, Some(&p), vec![]);
        assert_eq!(phase, Phase::Pending);
        assert_eq!(
            reason.unwrap(),
            "No node has enough GPUs (nvidia.com/gpu) free for this notebook. Choose a smaller size or fewer GPUs, or wait until others stop theirs."
        );
    }

    #[test]
    fn image_pull_names_the_image() {
        let p = pod(json!({"phase": "Pending", "containerStatuses": [{"name": "nb", "image": "quay.io/x/nope:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"quay.io/x/nope:1\": manifest unknown"}}}]}));
        assert_eq!(
            observe(false, Some(&p), vec![]),
            (Phase::Failed, Some("The image quay.io/x/nope:1 cannot be pulled: it does not exist (check the name and tag).".into()))
        );
    }

    #[test]
    fn crash_loop_counts_restarts() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [{"name": "nb", "image": "i", "imageID": "", "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}}]}));
        let (phase, reason) = observe(false, Some(&p), vec![]);
        assert_eq!(phase, Phase::Failed);
        assert!(reason.unwrap().starts_with("The notebook server keeps crashing: it has restarted 4 times (last exit code 1)."));
    }

    #[test]
    fn quota_refusal_without_a_pod() {
        let e = event("FailedCreate", "create Pod nb-0 in StatefulSet nb failed error: pods \"nb-0\" is forbidden: exceeded quota: atrium-quota, requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4");
        assert_eq!(
            observe(false, None, vec![&e]),
            (Phase::Failed, Some("The team's quota is used up, so the pod cannot start: requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4.".into()))
        );
    }

    #[test]
    fn stopped_and_stopping() {
        assert_eq!(observe(true, None, vec![]), (Phase::Stopped, None));
        let p = pod(json!({"phase": "Running"}));
        assert_eq!(observe(true, Some(&p), vec![]).0, Phase::Stopping);
        assert_eq!(observe(false, None, vec![]).0, Phase::Pending);
    }
}
