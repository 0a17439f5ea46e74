//! A team as lists show it, and one line of its quota.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamSummary {
    pub name: String,
    pub display_name: String,
}

/// One line of a quota: what is used against what is allowed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaLine {
    pub resource: String,
    pub used: String,
    pub hard: String,
    /// used / hard in 0..=1, when both parse.
    pub fraction: Option<f64>,
}
