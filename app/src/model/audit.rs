//! Entries of the audit trail, as stored and shown.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Recorded before the change was attempted; stays so if the portal stopped mid-way.
    Started,
    Succeeded,
    /// Kubernetes (or a portal rule) said no.
    Refused,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Succeeded => "succeeded",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Outcome {
        match s {
            "succeeded" => Outcome::Succeeded,
            "refused" => Outcome::Refused,
            "started" => Outcome::Started,
            _ => Outcome::Failed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub team: Option<String>,
    pub action: String,
    pub object: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// Which entries to show; `None` means any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub team: Option<String>,
    pub actor: Option<String>,
    /// A prefix of the action, e.g. `member.` or `quota.update`.
    pub action: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub limit: i64,
}
