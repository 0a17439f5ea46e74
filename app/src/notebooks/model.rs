//! What a notebook is to the person using it: the rows of the list, the
//! create form, and the checks every form field gets in the browser (as you
//! type) and again on the server.

use serde::{Deserialize, Serialize};

/// Where a notebook is in its life, as people say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    Pending,
    Starting,
    Running,
    Stopping,
    Stopped,
    Failed,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Starting => "Starting",
            Phase::Running => "Running",
            Phase::Stopping => "Stopping",
            Phase::Stopped => "Stopped",
            Phase::Failed => "Failed",
        }
    }

    /// Tailwind classes of the status badge.
    pub fn badge(self) -> &'static str {
        match self {
            Phase::Running => "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
            Phase::Starting | Phase::Pending => "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200",
            Phase::Stopping | Phase::Stopped => "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200",
            Phase::Failed => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
        }
    }

    /// Whether the notebook holds compute (and so may be stopped).
    pub fn is_up(self) -> bool {
        matches!(self, Phase::Pending | Phase::Starting | Phase::Running | Phase::Failed)
    }
}

/// Which Kubernetes objects carry a notebook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// A Kubeflow `Notebook` (kubeflow.org/v1); its controller makes the StatefulSet.
    Kubeflow,
    /// A StatefulSet, Service and PersistentVolumeClaim made by the portal.
    StatefulSet,
}

/// One notebook as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotebookRow {
    pub team: String,
    pub name: String,
    pub owner: String,
    /// The catalog's display name, or the image reference when not in the catalog.
    pub image: String,
    pub image_ref: String,
    pub size: String,
    pub cpu: String,
    pub memory: String,
    pub gpus: u32,
    /// The workspace volume (claim name).
    pub volume: Option<String>,
    pub phase: Phase,
    /// Why it is not running, in plain words.
    pub reason: Option<String>,
    /// Creation time, milliseconds since the epoch.
    pub created_ms: i64,
    /// Last activity the Jupyter server reported, milliseconds since the epoch.
    pub last_activity_ms: Option<i64>,
    /// When its pod last became Ready (a restarted server starts a fresh idle clock).
    pub ready_since_ms: Option<i64>,
    pub backend: Backend,
}

impl NotebookRow {
    pub fn key(&self) -> (String, String) {
        (self.team.clone(), self.name.clone())
    }
}

/// What the live stream tells the browser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum NotebookEvent {
    /// Every row the stream covers (first, and after falling behind).
    Snapshot { rows: Vec<NotebookRow> },
    Changed { row: NotebookRow },
    Removed { team: String, name: String },
}

/// The workspace volume of a new notebook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VolumeChoice {
    /// A new claim of this size ("10Gi") and storage class (None: the cluster's default).
    New { size: String, storage_class: Option<String> },
    /// An existing claim of the team.
    Existing { claim: String },
    None,
}

/// The create form, as sent to the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookForm {
    pub team: String,
    pub name: String,
    /// Catalog image id.
    pub image: String,
    /// Catalog size id.
    pub size: String,
    pub gpus: u32,
    pub volume: VolumeChoice,
    pub env: Vec<(String, String)>,
    /// Names of the team's data-connection Secrets.
    pub connections: Vec<String>,
}

/// The path the portal serves a notebook at; its server is told to use it.
pub fn url_prefix(team: &str, name: &str) -> String {
    format!("/notebook/{team}/{name}")
}

/// Applies one message of the live stream to the rows a page shows.
pub fn apply_event(rows: &mut Vec<NotebookRow>, event: NotebookEvent) {
    match event {
        NotebookEvent::Snapshot { rows: all } => *rows = all,
        NotebookEvent::Changed { row } => match rows.iter_mut().find(|r| r.team == row.team && r.name == row.name) {
            Some(existing) => *existing = row,
            None => rows.insert(0, row),
        },
        NotebookEvent::Removed { team, name } => rows.retain(|r| !(r.team == team && r.name == name)),
    }
}

/// Name rules, as explained next to the field.
pub const NAME_RULES: &str =
    "Lowercase letters, digits and '-', starting with a letter and ending with a letter or digit; at most 40 characters.";

/// Checks a notebook name against DNS-1123 label rules (shorter, so the
/// pod name `<name>-0` and the Service name fit).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Give the notebook a name.".into());
    }
    if name.len() > 40 {
        return Err(format!("“{name}” is {} characters long; the limit is 40.", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(if bad.is_ascii_uppercase() {
            "Use lowercase letters only.".into()
        } else {
            format!("“{bad}” is not allowed: use lowercase letters, digits and '-'.")
        });
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("Start with a letter.".into());
    }
    if name == "new" {
        return Err("“new” is reserved; choose another name.".into());
    }
    if name.ends_with('-') {
        return Err("End with a letter or a digit.".into());
    }
    Ok(())
}

/// Environment variable names, as a shell and Kubernetes accept them.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "“{name}” is not a valid variable name: use letters, digits and '_', not starting with a digit."
        ));
    }
    if name.starts_with("JUPYTER_") || name == "NB_PREFIX" || name == "NOTEBOOK_ARGS" {
        return Err(format!("“{name}” is set by the portal and cannot be changed."));
    }
    Ok(())
}

/// How long ago, in words ("3 min", "2 h", "5 d").
pub fn ago(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{}s", s.max(0)),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_label_rules_with_reasons() {
        assert!(check_name("churn-model-2").is_ok());
        assert_eq!(check_name("").unwrap_err(), "Give the notebook a name.");
        assert_eq!(check_name("Churn").unwrap_err(), "Use lowercase letters only.");
        assert!(check_name("churn_model").unwrap_err().contains("“_” is not allowed"));
        assert_eq!(check_name("2churn").unwrap_err(), "Start with a letter.");
        assert_eq!(check_name("churn-").unwrap_err(), "End with a letter or a digit.");
        assert!(check_name(&"a".repeat(41)).unwrap_err().contains("41 characters"));
    }

    #[test]
    fn env_names() {
        assert!(check_env_name("MLFLOW_TRACKING_URI").is_ok());
        assert!(check_env_name("1X").is_err());
        assert!(check_env_name("A-B").is_err());
        assert!(check_env_name("NB_PREFIX").unwrap_err().contains("set by the portal"));
    }

    fn row(name: &str, phase: Phase) -> NotebookRow {
        NotebookRow {
            team: "t".into(),
            name: name.into(),
            owner: "alice".into(),
            image: "i".into(),
            image_ref: "i:1".into(),
            size: "Small".into(),
            cpu: "1".into(),
            memory: "2Gi".into(),
            gpus: 0,
            volume: None,
            phase,
            reason: None,
            created_ms: 0,
            last_activity_ms: None,
            ready_since_ms: None,
            backend: Backend::StatefulSet,
        }
    }

    #[test]
    fn live_events_update_the_rows() {
        let mut rows = vec![row("a", Phase::Pending)];
        apply_event(&mut rows, NotebookEvent::Changed { row: row("a", Phase::Running) });
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].phase, Phase::Running);
        apply_event(&mut rows, NotebookEvent::Changed { row: row("b", Phase::Pending) });
        assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        apply_event(&mut rows, NotebookEvent::Removed { team: "t".into(), name: "a".into() });
        assert_eq!(rows.len(), 1);
        apply_event(&mut rows, NotebookEvent::Snapshot { rows: vec![] });
        assert!(rows.is_empty());
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(125), "2 min");
        assert_eq!(ago(7300), "2 h");
        assert_eq!(ago(200_000), "2 d");
    }
}
