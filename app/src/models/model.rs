//! Models as the pages show them: registered models and their versions from
//! the team's MLflow registry, and their deployments (KServe
//! `InferenceService`s in the team's namespace). Checks of what people type
//! live here, so the browser and the server say the same thing.

use serde::{Deserialize, Serialize};

/// The registered models of the person's teams (or of one team).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    pub rows: Vec<ModelRow>,
    /// The teams shown, each with whether the person may deploy there.
    pub teams: Vec<(String, bool)>,
    /// Teams whose registry did not answer in time (their rows are missing).
    pub unavailable: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub team: String,
    pub name: String,
    pub description: String,
    /// The newest version's number.
    pub latest: Option<String>,
    /// The run the newest version came from, and that run's metrics (the
    /// first few by name, latest values).
    pub latest_run: Option<String>,
    pub metrics: Vec<(String, f64)>,
    /// (alias, version), e.g. ("champion", "3").
    pub aliases: Vec<(String, String)>,
    pub updated_ms: i64,
    pub deployments: Vec<DeploymentBrief>,
}

/// Where a model is served, in a word.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentBrief {
    pub name: String,
    pub version: String,
    pub state: ServingState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServingState {
    #[default]
    Starting,
    Ready,
    /// The controller reported a failure (or a refusal keeps it from starting).
    Failing,
    /// Asked of the team's admins; nothing is created until one approves.
    Asked,
}

impl ServingState {
    pub fn label(self) -> &'static str {
        match self {
            ServingState::Starting => "Starting",
            ServingState::Ready => "Ready",
            ServingState::Failing => "Not ready",
            ServingState::Asked => "Waiting for approval",
        }
    }
    /// Colours, as the notebooks' phases have them.
    pub fn badge(self) -> &'static str {
        match self {
            ServingState::Starting => "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200",
            ServingState::Ready => "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
            ServingState::Failing => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
            ServingState::Asked => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200",
        }
    }
}

/// One registered model with its versions and deployments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelDetail {
    pub team: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<(String, String)>,
    /// Newest first.
    pub versions: Vec<VersionRow>,
    pub aliases: Vec<(String, String)>,
    pub deployments: Vec<Deployment>,
    /// Whether the person may move aliases (update registered models).
    pub may_alias: bool,
    /// Whether the person may deploy (create InferenceServices).
    pub may_deploy: bool,
    /// Whether deploying asks the team's admins (a team whose promotions
    /// need approval, and the person is no team admin).
    pub deploy_asks: bool,
    /// The serving runtimes offered for MLflow models (name, label), the
    /// portal's default first; empty for those who may not deploy.
    pub runtimes: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionRow {
    pub version: String,
    pub created_ms: i64,
    /// MLflow's status: READY, PENDING_REGISTRATION, FAILED_REGISTRATION.
    pub status: String,
    pub run_id: Option<String>,
    /// The run's experiment, for the link to the run's page.
    pub experiment_id: Option<String>,
    pub run_name: Option<String>,
    /// The run's metrics (last values), for comparing versions.
    pub metrics: Vec<(String, f64)>,
    pub description: String,
    pub tags: Vec<(String, String)>,
    pub aliases: Vec<String>,
    /// Where its files are (as MLflow says), and the model it came from.
    pub source: String,
    pub created_by: String,
}

/// An InferenceService serving a version of a model, in plain words.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub name: String,
    pub model: String,
    pub version: String,
    pub state: ServingState,
    /// The address the cluster gives it (empty until the controller says).
    pub url: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub cpu: String,
    pub memory: String,
    pub gpus: u32,
    /// Why it is not ready, in words (the controller's conditions, and
    /// refusals of its pods: quota, image, runtime).
    pub reasons: Vec<String>,
    pub deployed_by: String,
    pub created_ms: i64,
    /// A second version served beside this one, while it is tried.
    pub canary: Option<Canary>,
    /// Said when a canary runs but nothing splits traffic between the two.
    pub traffic_note: Option<String>,
    /// What was done to it, newest first.
    pub history: Vec<Revision>,
    /// Whether changing the version it serves needs a team admin's
    /// approval (the team is marked so) and the person is no team admin.
    pub asks_approval: bool,
    /// A change of the version it serves, waiting for a team admin.
    pub waiting: Option<Promotion>,
}

/// The requests a deployment's versions have answered, as their model
/// servers count them (MLServer's `model_infer_request_*` metrics, since
/// each server started), with the share of traffic asked for each.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// The stable version first, then the canary (if any).
    pub versions: Vec<VersionTraffic>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionTraffic {
    pub version: String,
    pub canary: bool,
    /// The share of traffic asked for it of the cluster's gateway.
    pub asked_percent: u8,
    pub answered: u64,
    pub failed: u64,
    /// Its model servers running now, and how many of them gave their counts.
    pub servers: u32,
    pub counted: u32,
}

impl VersionTraffic {
    pub fn requests(&self) -> u64 {
        self.answered + self.failed
    }
}

impl Traffic {
    /// Each version's share of the requests counted, in tenths of a percent
    /// (summing to 1000), or `None` before any request was counted.
    pub fn served_permille(&self) -> Option<Vec<u32>> {
        let total: u64 = self.versions.iter().map(VersionTraffic::requests).sum();
        if total == 0 {
            return None;
        }
        let mut shares: Vec<u32> = self.versions.iter().map(|v| (v.requests() * 1000 / total) as u32).collect();
        // What integer division lost goes to the largest, so the bar is whole.
        let lost = 1000 - shares.iter().sum::<u32>();
        if let Some(i) = (0..shares.len()).max_by_key(|i| shares[*i]) {
            shares[i] += lost;
        }
        Some(shares)
    }
}

/// What the inference panel shows of one request sent to a deployment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The model server's HTTP status.
    pub status: u16,
    /// Its answer, laid out (JSON), or its error in its own words.
    pub response: String,
    /// Each output's name and values, when it answered with outputs.
    pub outputs: Vec<(String, String)>,
    /// From the portal to the model server and back, in milliseconds.
    pub latency_ms: u64,
}

/// A request the inference panel sends at most (bytes).
pub const PREDICT_MAX_BYTES: usize = 1 << 20;

/// Whether `text` can be sent to a model server as a V2 inference request:
/// a JSON object with a non-empty `inputs` list, each with a name, shape,
/// datatype and data. Said as a sentence when not.
pub fn check_inference_request(text: &str) -> Result<(), String> {
    if text.len() > PREDICT_MAX_BYTES {
        return Err(format!("The request is {} KB; send at most {} KB at a time.", text.len() / 1024, PREDICT_MAX_BYTES / 1024));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("The request is not JSON: {e}."))?;
    let Some(inputs) = value.get("inputs").and_then(|i| i.as_array()).filter(|i| !i.is_empty()) else {
        return Err("The request needs an “inputs” list (the V2 inference protocol), e.g. {\"inputs\": [{\"name\": …, \"shape\": …, \"datatype\": …, \"data\": …}]}.".into());
    };
    for (i, input) in inputs.iter().enumerate() {
        for key in ["name", "shape", "datatype", "data"] {
            if input.get(key).is_none() {
                return Err(format!("Input {} has no “{key}”.", i + 1));
            }
        }
    }
    Ok(())
}

/// The namespace label that marks a team whose promotions need approval,
/// and its value.
pub const APPROVAL_LABEL: (&str, &str) = ("atrium.io/promotions", "need-approval");

pub use crate::model::promotion::{Promotion, PromotionAction};

/// What a person asks for when deploying a version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeployRequest {
    pub team: String,
    pub model: String,
    pub version: String,
    /// The InferenceService's name.
    pub name: String,
    pub cpu: String,
    pub memory: String,
    pub gpus: u32,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// The serving runtime (a ClusterServingRuntime of the cluster's
    /// catalog that serves MLflow models); empty: the portal's default.
    #[serde(default)]
    pub runtime: String,
}

/// Replicas of one deployment at most (the page offers no more).
pub const REPLICAS_MAX: u32 = 20;
/// A deployment's name at most: KServe adds `-predictor` (and a canary's
/// suffix) to it for the Deployment and Service it makes, which must stay
/// within 63 characters.
pub const DEPLOYMENT_NAME_MAX: usize = 40;
pub const DEFAULT_CPU: &str = "1";
pub const DEFAULT_MEMORY: &str = "2Gi";

/// A deployment's name: lowercase letters, digits and '-', starting with a
/// letter and not ending with '-' (a DNS label, as KServe wants).
pub fn check_deployment_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Give the deployment a name.".into());
    }
    if name.len() > DEPLOYMENT_NAME_MAX {
        return Err(format!("A deployment name has at most {DEPLOYMENT_NAME_MAX} characters; this one has {}.", name.len()));
    }
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err("A deployment name is lowercase letters, digits and '-', starting with a letter and not ending with '-'.".into());
    }
    Ok(())
}

/// The deployment name offered for a model: its name made a DNS label.
pub fn default_deployment_name(model: &str) -> String {
    let mut out = String::new();
    for c in model.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out.trim_start_matches(|c: char| !c.is_ascii_lowercase()).chars().take(DEPLOYMENT_NAME_MAX).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "model".into() } else { out }
}

/// An alias as MLflow takes it: letters, digits, '_' and '-', at most 255,
/// not `latest` and not `v<number>` (those name versions).
pub fn check_alias(alias: &str) -> Result<(), String> {
    if alias.is_empty() || alias.len() > 255 {
        return Err("An alias is 1 to 255 characters.".into());
    }
    if !alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err("An alias is letters, digits, '_' and '-'.".into());
    }
    let lower = alias.to_ascii_lowercase();
    if lower == "latest" || (lower.len() > 1 && lower.starts_with('v') && lower[1..].chars().all(|c| c.is_ascii_digit())) {
        return Err(format!("“{alias}” names a version in MLflow; choose another alias."));
    }
    Ok(())
}

/// A version number as MLflow gives it (a positive integer).
pub fn check_version(version: &str) -> Result<(), String> {
    if version.is_empty() || version.len() > 9 || !version.chars().all(|c| c.is_ascii_digit()) || version.starts_with('0') {
        return Err(format!("“{}” is not a version number.", version.chars().take(20).collect::<String>()));
    }
    Ok(())
}

impl DeployRequest {
    /// What is wrong with the request's form, in words, as the browser
    /// checks it while people type: names, numbers of replicas, and whether
    /// amounts are written as amounts (their size is checked by
    /// [`DeployRequest::problems`] on the server).
    pub fn form_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = check_deployment_name(&self.name) {
            out.push(e);
        }
        if !crate::quantity::well_formed(&self.cpu) {
            out.push(format!("“{}” is not an amount of CPU (e.g. 500m or 2).", self.cpu));
        }
        if !crate::quantity::well_formed(&self.memory) {
            out.push(format!("“{}” is not an amount of memory of at least 1Mi (e.g. 512Mi or 2Gi).", self.memory));
        }
        out.extend(self.replica_problems());
        out
    }

    fn replica_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.gpus > 8 {
            out.push("A replica may ask for 8 GPUs at most.".into());
        }
        if self.min_replicas < 1 {
            out.push("At least one replica must run.".into());
        }
        if self.max_replicas < self.min_replicas {
            out.push(format!("The most replicas ({}) is fewer than the fewest ({}).", self.max_replicas, self.min_replicas));
        }
        if self.max_replicas > REPLICAS_MAX {
            out.push(format!("At most {REPLICAS_MAX} replicas."));
        }
        out
    }

    /// Everything wrong with the request, in words, each checked without
    /// asking anyone; `quota` is the team's quota in all (per replica, a
    /// deployment may ask for no more than `quota / min_replicas`).
    pub fn problems(&self, quota: Option<&crate::pipelines::model::StepQuota>) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = crate::experiments::model::check_model_name(&self.model) {
            out.push(e);
        }
        if let Err(e) = check_version(&self.version) {
            out.push(e);
        }
        if let Err(e) = check_deployment_name(&self.name) {
            out.push(e);
        }
        let cpu = crate::quantity::parse(&self.cpu).filter(|v| *v > 0.0);
        if cpu.is_none() {
            out.push(format!("“{}” is not an amount of CPU (e.g. 500m or 2).", self.cpu));
        }
        let memory = crate::quantity::parse(&self.memory).filter(|v| *v >= 1024.0 * 1024.0);
        if memory.is_none() {
            out.push(format!("“{}” is not an amount of memory of at least 1Mi (e.g. 512Mi or 2Gi).", self.memory));
        }
        out.extend(self.replica_problems());
        if let Some(q) = quota {
            let n = self.min_replicas.max(1) as f64;
            let over = |asked: Option<f64>, limit: &Option<(f64, String)>, what: &str, shown: &str| {
                let (Some(asked), Some((cap, written))) = (asked, limit) else { return None };
                (asked * n > *cap).then(|| {
                    format!("{} replica(s) of {shown} {what} ask for more than the team's quota allows in all ({written}).", self.min_replicas)
                })
            };
            out.extend(over(cpu, &q.cpu, "CPU", &self.cpu));
            out.extend(over(memory, &q.memory, "of memory", &self.memory));
            out.extend(over(Some(self.gpus as f64).filter(|g| *g > 0.0), &q.gpus, "GPUs", &self.gpus.to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::model::StepQuota;

    fn request() -> DeployRequest {
        DeployRequest {
            team: "team-a".into(),
            model: "flights".into(),
            version: "2".into(),
            name: "flights".into(),
            cpu: "1".into(),
            memory: "2Gi".into(),
            gpus: 0,
            min_replicas: 1,
            max_replicas: 2,
            runtime: String::new(),
        }
    }

    #[test]
    fn a_sound_request_has_no_problems() {
        assert_eq!(request().problems(None), Vec::<String>::new());
    }

    #[test]
    fn deployment_names_are_dns_labels_kserve_can_suffix() {
        assert!(check_deployment_name("flights-v2").is_ok());
        for bad in ["", "Flights", "2flights", "flights-", "a_b", &"a".repeat(41)] {
            assert!(check_deployment_name(bad).is_err(), "{bad}");
        }
        assert_eq!(default_deployment_name("Flight_Delays.v2"), "flight-delays-v2");
        assert_eq!(default_deployment_name("42"), "model");
        assert!(check_deployment_name(&default_deployment_name(&"x-".repeat(60))).is_ok());
    }

    #[test]
    fn aliases_that_name_versions_are_refused() {
        assert!(check_alias("champion").is_ok());
        assert!(check_alias("challenger-2").is_ok());
        for bad in ["", "latest", "v3", "V12", "with space", "é"] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
        assert!(check_alias("v").is_ok());
    }

    #[test]
    fn versions_are_positive_numbers() {
        assert!(check_version("12").is_ok());
        for bad in ["", "0", "01", "-1", "1.0", "abc", "1234567890"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_wrong_field_is_named() {
        let mut r = request();
        r.cpu = "lots".into();
        r.memory = "12".into();
        r.min_replicas = 3;
        r.max_replicas = 2;
        let p = r.problems(None);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("“lots” is not an amount of CPU"));
        assert!(p[1].contains("memory"));
        assert!(p[2].contains("fewer than the fewest (3)"));
    }

    #[test]
    fn the_browser_names_the_same_wrong_fields_without_working_out_amounts() {
        let mut r = request();
        assert!(r.form_problems().is_empty());
        r.cpu = "lots".into();
        r.memory = "12".into();
        r.min_replicas = 3;
        r.max_replicas = 2;
        let p = r.form_problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("“lots” is not an amount of CPU"));
        assert!(p[1].contains("fewer than the fewest (3)"));
    }

    #[test]
    fn replicas_beyond_the_team_quota_are_named_with_it() {
        let quota = StepQuota::from_hard([("requests.cpu", "4"), ("requests.memory", "8Gi")]);
        let mut r = request();
        r.min_replicas = 3;
        r.max_replicas = 3;
        r.cpu = "2".into();
        let p = r.problems(Some(&quota));
        assert_eq!(p, vec!["3 replica(s) of 2 CPU ask for more than the team's quota allows in all (4).".to_string()]);
        r.cpu = "1".into();
        assert!(r.problems(Some(&quota)).is_empty());
        r.memory = "3Gi".into();
        assert!(r.problems(Some(&quota))[0].contains("of memory"));
    }
}

/// One thing done to a deployment: deployed, a canary started, promoted,
/// rolled back; who did it and when.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub version: String,
    pub action: String,
    pub by: String,
    pub at_ms: i64,
}

/// A canary beside the stable version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    pub version: String,
    /// The share of traffic asked of the cluster's gateway.
    pub percent: u8,
    pub state: ServingState,
    /// Where it answers inside the cluster (its own Service).
    pub address: String,
}

/// A canary's share of the traffic, as typed: 0 to 100.
pub fn check_percent(percent: u32) -> Result<u8, String> {
    u8::try_from(percent).ok().filter(|p| *p <= 100).ok_or_else(|| format!("A canary takes 0 to 100 % of the traffic, not {percent} %."))
}
