//! Requests for more quota, as stored, and a person's words for quota keys.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRequest {
    pub id: i64,
    pub team: String,
    pub resource: String,
    pub amount: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at_ms: i64,
    pub status: String,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
}

/// A person's words for quota keys.
pub fn resource_label(resource: &str) -> String {
    match resource {
        "requests.cpu" => "CPU requested".into(),
        "limits.cpu" => "CPU limit".into(),
        "requests.memory" => "Memory requested".into(),
        "limits.memory" => "Memory limit".into(),
        "requests.nvidia.com/gpu" => "GPUs".into(),
        "requests.storage" => "Storage".into(),
        "persistentvolumeclaims" => "Volumes".into(),
        "pods" => "Pods".into(),
        other => other.into(),
    }
}
