//! Teams: the namespaces a person works in, their members and quota. The
//! pages are in `pages/` (one file each); beside them, per feature, the
//! server functions with the types they return (`overview`, `members`,
//! `quota`) and the server-only Kubernetes code (`server`,
//! `members_server`, `quota_server`).

pub mod members;
#[cfg(feature = "ssr")]
pub mod members_server;
pub mod overview;
pub mod pages;
pub mod quota;
#[cfg(feature = "ssr")]
pub mod quota_server;
#[cfg(feature = "ssr")]
pub mod server;

pub use crate::model::team::{QuotaLine, TeamSummary};
pub use overview::{GetTeamAccess, GetTeamOverview, TeamAccess, TeamOverview, get_team_access, get_team_overview};

/// Label that marks a namespace as an Atrium team.
pub const TEAM_LABEL: &str = "atrium.io/team";
/// Pod Security `restricted`, enforced (and warned and audited) at the
/// cluster's newest version, on every team namespace: no root, no privilege
/// escalation, no added capabilities, a seccomp profile (decision 0008).
pub const POD_SECURITY_LABELS: [(&str, &str); 6] = [
    ("pod-security.kubernetes.io/enforce", "restricted"),
    ("pod-security.kubernetes.io/enforce-version", "latest"),
    ("pod-security.kubernetes.io/warn", "restricted"),
    ("pod-security.kubernetes.io/warn-version", "latest"),
    ("pod-security.kubernetes.io/audit", "restricted"),
    ("pod-security.kubernetes.io/audit-version", "latest"),
];

/// The labels of a team namespace: what makes it a team, and its fence.
pub fn namespace_labels() -> std::collections::BTreeMap<String, String> {
    [(TEAM_LABEL, "true"), ("app.kubernetes.io/part-of", "atrium")]
        .into_iter()
        .chain(POD_SECURITY_LABELS)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Annotation holding a team's display name.
pub const DISPLAY_NAME: &str = "atrium.io/display-name";
