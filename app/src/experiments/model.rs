//! What the experiments pages show, as the browser receives it, and the
//! checks on what people type (names, sort keys), shared by both sides.

use serde::{Deserialize, Serialize};

/// One experiment of one team's MLflow workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRow {
    pub team: String,
    pub id: String,
    pub name: String,
    pub deleted: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Who created it through Atrium (the `atrium.io/created-by` tag), or
    /// the MLflow user recorded on it.
    pub owner: Option<String>,
    /// Tags people set (MLflow's own `mlflow.*` tags left out).
    pub tags: Vec<(String, String)>,
    /// When its newest run started.
    pub last_run_ms: Option<i64>,
}

/// Where a link an MLflow client printed (`<tracking URI>/#/experiments/<id>`
/// or `…/runs/<run>`) leads in the portal. The gateway sends
/// `/mlflow/<team>/` on to `/experiments/<team>`, and the browser keeps the
/// fragment (which it never sends) across that redirect; the page then
/// turns it into the experiment's or the run's own address.
pub fn mlflow_link_target(path: &str, fragment: &str) -> Option<String> {
    let team = path.strip_prefix("/experiments/")?.trim_end_matches('/');
    let name_like = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !name_like(team) {
        return None;
    }
    let mut parts = fragment.strip_prefix("#/experiments/")?.split('/');
    let id = parts.next().filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))?;
    match (parts.next(), parts.next()) {
        (Some("runs"), Some(run)) if !run.is_empty() && run.chars().all(|c| c.is_ascii_hexdigit()) => Some(format!("/experiments/{team}/{id}/runs/{run}")),
        _ => Some(format!("/experiments/{team}/{id}")),
    }
}

/// Whether a run with this status has ended (its history no longer grows
/// unless someone logs to it again).
pub fn finished(status: &str) -> bool {
    matches!(status, "FINISHED" | "FAILED" | "KILLED")
}

/// The experiments page: experiments of the teams the person may read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentList {
    pub rows: Vec<ExperimentRow>,
    /// Teams shown, and whether the person may create and change experiments there.
    pub teams: Vec<(String, bool)>,
    /// Whether deleted experiments are listed (instead of active ones).
    pub deleted: bool,
}

/// One run, as a row of the runs table or on its own page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: String,
    pub name: String,
    /// RUNNING, SCHEDULED, FINISHED, FAILED or KILLED.
    pub status: String,
    pub user: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Where it ran from: a notebook or script path, and the git commit.
    pub source: Option<String>,
    pub commit: Option<String>,
    /// The portal notebook it was logged from (tagged by the MLflow gateway).
    pub notebook: Option<String>,
    /// The pipeline run whose step logged it (tagged by the step's MLflow
    /// client, kept by the gateway only from pipeline steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_run: Option<String>,
    pub params: Vec<(String, String)>,
    /// Latest value of each metric.
    pub metrics: Vec<(String, f64)>,
    /// The metrics logged beyond step 0: only these have a history worth
    /// asking MLflow for (the latest value is the whole history otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stepped: Vec<String>,
    pub tags: Vec<(String, String)>,
}

impl RunRow {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// How long it ran (or has been running, at `now_ms`), in words.
    pub fn duration(&self, now_ms: i64) -> Option<String> {
        let start = self.start_ms?;
        let end = self.end_ms.unwrap_or(now_ms);
        Some(crate::notebooks::model::ago((end - start).max(0) / 1000))
    }
}

/// A column of the runs table beyond the fixed ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Column {
    Param(String),
    Metric(String),
    Tag(String),
}

impl Column {
    /// As written in the address and in MLflow's search syntax: `params.lr`.
    pub fn key(&self) -> String {
        match self {
            Column::Param(k) => format!("params.{k}"),
            Column::Metric(k) => format!("metrics.{k}"),
            Column::Tag(k) => format!("tags.{k}"),
        }
    }

    pub fn parse(s: &str) -> Option<Column> {
        let (kind, key) = s.split_once('.')?;
        if key.is_empty() || key.len() > 250 || key.contains('`') {
            return None;
        }
        match kind {
            "params" => Some(Column::Param(key.into())),
            "metrics" => Some(Column::Metric(key.into())),
            "tags" => Some(Column::Tag(key.into())),
            _ => None,
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Column::Param(k) | Column::Metric(k) | Column::Tag(k) => k,
        }
    }

    pub fn value(&self, run: &RunRow) -> String {
        match self {
            Column::Param(k) => run.param(k).unwrap_or("").to_string(),
            Column::Metric(k) => run.metric(k).map(format_metric).unwrap_or_default(),
            Column::Tag(k) => run.tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.clone()).unwrap_or_default(),
        }
    }
}

/// What the runs table is sorted by: a fixed attribute or a column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    /// `start_time`, `run_name`, `status`, or a column key (`metrics.rmse`).
    pub by: String,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort { by: "start_time".into(), descending: true }
    }
}

impl Sort {
    /// MLflow's `order_by` clause, or why this sort is not possible. Keys go
    /// in backticks, so a metric named `val loss` sorts too.
    pub fn order_by(&self) -> Result<String, String> {
        let dir = if self.descending { "DESC" } else { "ASC" };
        match self.by.as_str() {
            "start_time" | "run_name" | "status" | "end_time" => Ok(format!("attributes.{} {dir}", self.by)),
            other => match Column::parse(other) {
                Some(c) => {
                    let kind = c.key().split_once('.').map(|(k, _)| k.to_string()).unwrap_or_default();
                    Ok(format!("{kind}.`{}` {dir}", c.label()))
                }
                None => Err(format!("“{other}” is not something runs can be sorted by.")),
            },
        }
    }
}

/// A metric as people read it: up to 4 decimals, no trailing zeros.
pub fn format_metric(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Checks an experiment's name: the problem in words, if any.
pub fn check_experiment_name(name: &str) -> Result<(), String> {
    let n = name.trim();
    if n.is_empty() {
        return Err("Give the experiment a name.".into());
    }
    if n.chars().count() > 200 {
        return Err("Keep the name within 200 characters.".into());
    }
    if n.chars().any(char::is_control) {
        return Err("The name cannot hold line breaks or other control characters.".into());
    }
    Ok(())
}

/// A run page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub team: String,
    pub experiment: ExperimentRow,
    pub run: RunRow,
    /// The run's description (the `mlflow.note.content` tag).
    pub description: Option<String>,
    /// Each metric's history as a chart (SVG drawn on the server).
    pub charts: Vec<String>,
    /// The artifacts folder shown ("" for the top) and what it holds.
    pub dir: String,
    pub artifacts: Vec<ArtifactEntry>,
    /// The models the run logged.
    pub models: Vec<LoggedModel>,
    /// The registered model versions made from them, as (model, version),
    /// when the person may see the team's models.
    pub registered: Vec<(String, String)>,
    /// Whether the person may register models in this team.
    pub may_register: bool,
    /// Whether the person may change the run (its description).
    pub may_describe: bool,
    /// The artifact file asked for (`?file=`), shown in the page.
    pub preview: Option<Preview>,
}

/// An artifact shown in the run page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    pub path: String,
    pub kind: PreviewKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PreviewKind {
    /// Its first bytes as text; `cut` when there is more.
    Text { text: String, cut: bool },
    /// A CSV or TSV file's first rows (the first is its header); `cut` when
    /// there are more rows or columns than shown.
    Table { rows: Vec<Vec<String>>, cut: bool },
    /// A raster image, shown from the portal's download link.
    Image,
    /// Not a kind shown in the page (download it).
    Other,
}

/// The largest part of a text artifact shown in the page.
pub const PREVIEW_BYTES: usize = 64 * 1024;

/// Rows and columns of a table preview at most.
pub const TABLE_ROWS: usize = 200;
pub const TABLE_COLUMNS: usize = 40;

/// The preview of a text artifact: CSV and TSV as a table, JSON laid out
/// (when all of it was read), anything else as it is.
pub fn text_preview(path: &str, text: String, cut: bool) -> PreviewKind {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "csv" | "tsv" => {
            let (mut rows, mut more) = split_table(&text, if ext == "tsv" { b'\t' } else { b',' }, cut);
            if rows.len() > TABLE_ROWS {
                rows.truncate(TABLE_ROWS);
                more = true;
            }
            for r in &mut rows {
                if r.len() > TABLE_COLUMNS {
                    r.truncate(TABLE_COLUMNS);
                    more = true;
                }
            }
            PreviewKind::Table { rows, cut: cut || more }
        }
        "json" if !cut => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => PreviewKind::Text { text: serde_json::to_string_pretty(&v).unwrap_or(text), cut },
            Err(_) => PreviewKind::Text { text, cut },
        },
        _ => PreviewKind::Text { text, cut },
    }
}

/// Rows of delimited text, with RFC 4180 quoting (`"a,b"`, `""` for a
/// quote). When the text was `cut`, its last, possibly partial, row is left
/// out and the second value says so.
fn split_table(text: &str, delimiter: u8, cut: bool) -> (Vec<Vec<String>>, bool) {
    let d = delimiter as char;
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, c) if c == d => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    let partial = !field.is_empty() || !row.is_empty();
    if partial && !cut {
        row.push(field);
        rows.push(row);
    }
    (rows, cut && partial)
}

/// Whether an artifact is shown as text, by its name.
pub fn is_text(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    matches!(name, "MLmodel" | "requirements.txt" | "conda.yaml" | "python_env.yaml")
        || matches!(ext.as_str(), "txt" | "log" | "md" | "csv" | "tsv" | "json" | "yaml" | "yml" | "py" | "toml" | "ini" | "cfg" | "html" | "xml" | "sql")
}

/// A file or folder of a run's artifacts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactEntry {
    /// From the run's artifact root, e.g. `notes/readme.txt`.
    pub path: String,
    pub is_dir: bool,
    pub size: Option<u64>,
}

impl ArtifactEntry {
    /// The last part of the path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// A model a run logged (MLflow 3), and what it takes and gives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    pub id: String,
    pub name: String,
    /// Its files are all uploaded (it can be registered).
    pub ready: bool,
    /// e.g. `python_function`, `sklearn`.
    pub flavors: Vec<String>,
    /// The signature's inputs and outputs, as MLflow writes them (JSON).
    pub inputs: Option<String>,
    pub outputs: Option<String>,
}

/// A registered model's name: what MLflow and the Kubernetes objects of
/// serving it (later) both accept.
pub fn check_model_name(name: &str) -> Result<(), String> {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 100 || !ok_chars || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("A model name is 1 to 100 letters, digits, '-', '_' or '.', starting with a letter or digit.".into());
    }
    Ok(())
}

/// How a run's metric histories are charted: against steps or time, and
/// which steps (a zoom).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartView {
    pub by_time: bool,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// One page of an experiment's runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunsPage {
    pub experiment: ExperimentRow,
    pub runs: Vec<RunRow>,
    /// MLflow's token for the next page, if there is one.
    pub next: Option<String>,
    /// Param, metric and tag keys seen on this page, for picking columns.
    pub keys: Vec<Column>,
    /// The columns the person picked for this experiment (now or on an
    /// earlier visit); none: the first metrics and params seen.
    pub columns: Vec<Column>,
    pub now_ms: i64,
}

/// Runs compared side by side, at least two and at most this many.
pub const COMPARE_MAX: usize = 100;

/// Whether a lower value of this metric is the better one (losses and
/// errors), else a higher one (accuracy, AUC, F1, …).
pub fn lower_is_better(metric: &str) -> bool {
    let m = metric.to_lowercase();
    ["loss", "error", "err", "rmse", "mse", "mae", "mape", "perplexity", "latency", "time"].iter().any(|w| m.contains(w))
}

/// Checks the runs asked to compare: MLflow run ids (32 hex digits), 2 to 100.
pub fn check_compare(runs: &[String]) -> Result<(), String> {
    if runs.len() < 2 {
        return Err("Pick at least two runs to compare.".into());
    }
    if runs.len() > COMPARE_MAX {
        return Err(format!("Compare at most {COMPARE_MAX} runs at a time ({} picked).", runs.len()));
    }
    if let Some(bad) = runs.iter().find(|r| r.len() != 32 || !r.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(format!("“{bad}” is not a run id."));
    }
    Ok(())
}

/// The compare page: the runs, and charts drawn on the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub experiment: ExperimentRow,
    pub runs: Vec<RunRow>,
    /// One chart per metric, every run's history overlaid.
    pub charts: Vec<String>,
    /// A param (x) against a metric (y), one dot per run, when both exist.
    pub scatter: Option<String>,
    pub scatter_x: Option<String>,
    pub scatter_y: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_needs_two_to_a_hundred_real_run_ids() {
        let id = |i: usize| format!("{i:032x}");
        assert!(check_compare(&[id(1)]).is_err());
        assert!(check_compare(&[id(1), id(2)]).is_ok());
        assert!(check_compare(&(0..101).map(id).collect::<Vec<_>>()).unwrap_err().contains("at most 100"));
        assert!(check_compare(&[id(1), "x') OR 1=1 --".into()]).unwrap_err().contains("is not a run id"));
        assert!(lower_is_better("val_loss") && lower_is_better("RMSE") && !lower_is_better("accuracy"));
    }

    #[test]
    fn sorting_by_a_metric_quotes_its_key() {
        let s = Sort { by: "metrics.val loss".into(), descending: false };
        assert_eq!(s.order_by().unwrap(), "metrics.`val loss` ASC");
        assert_eq!(Sort::default().order_by().unwrap(), "attributes.start_time DESC");
        assert!(Sort { by: "drop table".into(), descending: true }.order_by().is_err());
        assert!(Sort { by: "metrics.a`b".into(), descending: true }.order_by().is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_experiment_name("fraud detection v2").is_ok());
        assert!(check_experiment_name("  ").is_err());
        assert!(check_experiment_name("a\nb").is_err());
        assert!(check_experiment_name(&"x".repeat(201)).is_err());
    }

    #[test]
    fn metrics_read_plainly() {
        assert_eq!(format_metric(0.912345), "0.9123");
        assert_eq!(format_metric(3.0), "3");
        assert_eq!(format_metric(0.5), "0.5");
    }

    #[test]
    fn csv_artifacts_are_shown_as_tables_and_json_laid_out() {
        let csv = "name,score,note\nalpha,0.5,\"a, quoted \"\"note\"\"\"\r\nbeta,0.25,\n";
        let PreviewKind::Table { rows, cut } = text_preview("out/scores.csv", csv.into(), false) else { panic!() };
        assert_eq!(rows, vec![vec!["name", "score", "note"], vec!["alpha", "0.5", "a, quoted \"note\""], vec!["beta", "0.25", ""]]);
        assert!(!cut);
        // A file read only in part loses its partial last row and says so.
        let PreviewKind::Table { rows, cut } = text_preview("s.csv", "a,b\n1,2\n3,".into(), true) else { panic!() };
        assert_eq!((rows.len(), cut), (2, true));
        let PreviewKind::Table { rows, .. } = text_preview("s.TSV", "a\tb\n1\t2".into(), false) else { panic!() };
        assert_eq!(rows[1], vec!["1", "2"]);
        let PreviewKind::Table { rows, cut } = text_preview("big.csv", "x\n".repeat(500), false) else { panic!() };
        assert_eq!((rows.len(), cut), (TABLE_ROWS, true));
        assert_eq!(text_preview("m.json", r#"{"a":[1,2]}"#.into(), false), PreviewKind::Text { text: "{\n  \"a\": [\n    1,\n    2\n  ]\n}".into(), cut: false });
        assert_eq!(text_preview("m.json", "{not json".into(), false), PreviewKind::Text { text: "{not json".into(), cut: false });
    }


    #[test]
    fn links_an_mlflow_client_prints_lead_to_the_run_in_the_portal() {
        let run = "0123456789abcdef0123456789abcdef";
        assert_eq!(mlflow_link_target("/experiments/team-a", &format!("#/experiments/7/runs/{run}")), Some(format!("/experiments/team-a/7/runs/{run}")));
        assert_eq!(mlflow_link_target("/experiments/team-a/", "#/experiments/7"), Some("/experiments/team-a/7".into()));
        assert_eq!(mlflow_link_target("/experiments/team-a", "#/experiments/7/runs/<script>"), Some("/experiments/team-a/7".into()));
        assert_eq!(mlflow_link_target("/experiments/team-a", "#/models"), None);
        assert_eq!(mlflow_link_target("/experiments/team-a", "#/experiments/javascript:x"), None);
        assert_eq!(mlflow_link_target("/notebooks/team-a", "#/experiments/7"), None);
        assert_eq!(mlflow_link_target("/experiments/team-a/7", "#/experiments/7"), None, "only the team's page follows it");
    }

}
