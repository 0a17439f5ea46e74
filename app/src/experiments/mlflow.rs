//! The portal's client of the MLflow tracking server. MLflow checks nothing
//! about its callers, so every call here names the team's workspace itself
//! (the `X-MLFLOW-WORKSPACE` header) after the caller's access to that team
//! was checked with Kubernetes (`super::api`). Ids from another team's
//! workspace are unknown in this one: MLflow answers 404.

use super::model::{ArtifactEntry, ExperimentRow, LoggedModel, RunRow};
use crate::config::MlflowConfig;
use crate::error::{AppError, AppResult};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A point of a metric's history: run id, step, timestamp (ms), value.
pub type Point = (String, i64, i64, f64);

/// How long a finished run's sampled history is kept (per replica). Runs
/// logged through the portal's gateway are forgotten at once when they log
/// again; this bounds how stale a chart of a run changed some other way gets.
pub const FINISHED_HISTORY_TTL: Duration = Duration::from_secs(120);
/// Sampled histories kept at most (each at most 1,000 points).
const HISTORIES_KEPT: usize = 512;

const WORKSPACE_HEADER: &str = "X-MLFLOW-WORKSPACE";

pub struct Mlflow {
    base: String,
    http: reqwest::Client,
    /// For workloads' calls through the gateway: no overall time limit
    /// (artifact uploads may be long), only to connect and between reads.
    relay: reqwest::Client,
    /// What the gateway learnt about workloads' tokens and rights, briefly.
    pub(crate) workloads: super::gateway::WorkloadCache,
    /// Workspaces known to exist, so each is checked once per replica.
    known: Mutex<HashSet<String>>,
    /// Sampled histories of finished runs (MLflow reads every step of a
    /// metric to sample it: ~0.45 s for 100,000 steps), by team and query.
    histories: Mutex<HashMap<String, (Instant, Arc<Vec<Point>>)>>,
    /// Calls made, for `/metrics`.
    calls: AtomicU64,
}

#[derive(Deserialize)]
struct MlflowError {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    message: String,
}

impl Mlflow {
    /// A client for the configured server; `None` when none is configured.
    pub fn new(config: &MlflowConfig) -> Option<Mlflow> {
        let base = config.url.trim().trim_end_matches('/').to_string();
        if base.is_empty() {
            return None;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds.max(1)))
            .connect_timeout(Duration::from_secs(config.timeout_seconds.clamp(1, 5)))
            // Reused connections stalled ~40 ms per request with MLflow's
            // server (Nagle's algorithm against delayed ACKs): send at once.
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .ok()?;
        let relay = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(config.timeout_seconds.clamp(1, 5)))
            .read_timeout(Duration::from_secs(config.timeout_seconds.max(1) * 12))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .ok()?;
        Some(Mlflow {
            base,
            http,
            relay,
            workloads: Default::default(),
            known: Mutex::new(HashSet::new()),
            histories: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        })
    }

    /// Calls made to the tracking server since the portal started.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub(crate) async fn call<T: DeserializeOwned>(&self, workspace: Option<&str>, method: reqwest::Method, path: &str, body: Option<Value>) -> AppResult<T> {
        let url = format!("{}{path}", self.base);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut req = self.http.request(method, &url);
        if let Some(ws) = workspace {
            req = req.header(WORKSPACE_HEADER, ws);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let endpoint = crate::platform::metrics::mlflow_endpoint(path);
        let span = tracing::info_span!("mlflow", otel.name = %format!("mlflow {endpoint}"), otel.kind = "client", mlflow.endpoint = %endpoint);
        let sent = tracing::Instrument::instrument(req.send(), span).await;
        crate::platform::metrics::metrics().mlflow(&endpoint, sent.as_ref().ok().map(|r| r.status().as_u16()));
        let resp = sent.map_err(unavailable)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(unavailable)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| AppError::internal(format!("MLflow answer to {path}: {e}")));
        }
        let err: MlflowError = serde_json::from_slice(&bytes).unwrap_or(MlflowError { error_code: String::new(), message: String::from_utf8_lossy(&bytes).into() });
        Err(refusal(status.as_u16(), &err, path))
    }

    /// Sends a workload's request on to MLflow as it came (`path_and_query`
    /// starts with `/api/`), in the team's workspace, whatever the workload
    /// asked for; the answer comes back as MLflow gave it.
    pub(crate) async fn relay(
        &self,
        team: &str,
        method: reqwest::Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: reqwest::Body,
        length: u64,
    ) -> AppResult<reqwest::Response> {
        self.ensure_workspace(team).await?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .relay
            .request(method, format!("{}{path_and_query}", self.base))
            .header(WORKSPACE_HEADER, team)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        // Workloads' calls: any path they ask for, so one label for all.
        let sent = req.send().await;
        crate::platform::metrics::metrics().mlflow("gateway", sent.as_ref().ok().map(|r| r.status().as_u16()));
        sent.map_err(unavailable)
    }

    /// Makes sure the team's workspace exists (made on first use for teams
    /// older than the experiments area, and when a team is created).
    pub async fn ensure_workspace(&self, team: &str) -> AppResult<()> {
        if self.known.lock().unwrap().contains(team) {
            return Ok(());
        }
        let got: AppResult<Value> = self.call(None, reqwest::Method::GET, &format!("/api/3.0/mlflow/workspaces/{team}"), None).await;
        match got {
            Ok(_) => {}
            Err(AppError::NotFound(_)) => {
                let body = json!({ "name": team, "description": format!("Experiments of team {team} (made by Atrium)") });
                match self.call::<Value>(None, reqwest::Method::POST, "/api/3.0/mlflow/workspaces", Some(body)).await {
                    Ok(_) | Err(AppError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
                tracing::info!(team, "made the team's MLflow workspace");
            }
            Err(e) => return Err(e),
        }
        self.known.lock().unwrap().insert(team.to_string());
        Ok(())
    }

    /// A retired team's workspace is kept (its runs may be wanted later) and
    /// marked archived; no page serves it once the team's namespace is gone.
    pub async fn archive_workspace(&self, team: &str) -> AppResult<()> {
        self.known.lock().unwrap().remove(team);
        let body = json!({ "description": format!("Archived: team {team} was retired") });
        match self.call::<Value>(None, reqwest::Method::PATCH, &format!("/api/3.0/mlflow/workspaces/{team}"), Some(body)).await {
            Ok(_) | Err(AppError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The team's experiments, active or deleted ones, newest first.
    pub async fn experiments(&self, team: &str, deleted: bool) -> AppResult<Vec<ExperimentRow>> {
        self.ensure_workspace(team).await?;
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        // Experiments are few per team; pages of 1,000, at most 5 pages.
        for _ in 0..5 {
            let body = json!({
                "max_results": 1000,
                "view_type": if deleted { "DELETED_ONLY" } else { "ACTIVE_ONLY" },
                "order_by": ["last_update_time DESC"],
                "page_token": token,
            });
            let page: Value = self.call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/experiments/search", Some(body)).await?;
            rows.extend(page["experiments"].as_array().into_iter().flatten().map(|e| experiment(team, e)));
            token = page["next_page_token"].as_str().filter(|t| !t.is_empty()).map(String::from);
            if token.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    pub async fn experiment(&self, team: &str, id: &str) -> AppResult<ExperimentRow> {
        self.ensure_workspace(team).await?;
        let got: Value = self
            .call(Some(team), reqwest::Method::GET, &format!("/api/2.0/mlflow/experiments/get?experiment_id={}", enc(id)), None)
            .await
            .map_err(|e| not_found(e, "There is no such experiment in this team."))?;
        Ok(experiment(team, &got["experiment"]))
    }

    /// When the experiment's newest run started (one small search).
    pub async fn last_run(&self, team: &str, id: &str) -> AppResult<Option<i64>> {
        let body = json!({ "experiment_ids": [id], "max_results": 1, "order_by": ["attributes.start_time DESC"] });
        let page: Value = self.call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/runs/search", Some(body)).await?;
        Ok(page["runs"][0]["info"]["start_time"].as_i64())
    }

    pub async fn create_experiment(&self, team: &str, name: &str, creator: &str) -> AppResult<String> {
        self.ensure_workspace(team).await?;
        let body = json!({ "name": name.trim(), "tags": [{ "key": "atrium.io/created-by", "value": creator }] });
        let made: Value = self
            .call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/experiments/create", Some(body))
            .await
            .map_err(|e| match e {
                AppError::Conflict(_) => AppError::Conflict(format!("This team already has an experiment named “{}” (perhaps deleted: show deleted ones to restore it).", name.trim())),
                other => other,
            })?;
        made["experiment_id"].as_str().map(String::from).ok_or_else(|| AppError::internal("MLflow made an experiment without an id"))
    }

    pub async fn rename_experiment(&self, team: &str, id: &str, name: &str) -> AppResult<()> {
        let body = json!({ "experiment_id": id, "new_name": name.trim() });
        self.call::<Value>(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/experiments/update", Some(body))
            .await
            .map_err(|e| not_found(e, "There is no such experiment in this team."))?;
        Ok(())
    }

    /// Sets a run's description (MLflow keeps it as the tag `mlflow.note.content`).
    pub async fn describe_run(&self, team: &str, run: &str, text: &str) -> AppResult<()> {
        let body = json!({ "run_id": run, "key": "mlflow.note.content", "value": text });
        self.call::<Value>(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/runs/set-tag", Some(body))
            .await
            .map_err(|e| not_found(e, "There is no such run in this team."))?;
        Ok(())
    }

    /// Deletes (`restore` false) or restores an experiment; MLflow keeps a
    /// deleted one until its garbage collection runs, so it can come back.
    pub async fn set_deleted(&self, team: &str, id: &str, deleted: bool) -> AppResult<()> {
        let path = if deleted { "/api/2.0/mlflow/experiments/delete" } else { "/api/2.0/mlflow/experiments/restore" };
        self.call::<Value>(Some(team), reqwest::Method::POST, path, Some(json!({ "experiment_id": id })))
            .await
            .map_err(|e| not_found(e, "There is no such experiment in this team."))?;
        Ok(())
    }

    /// One page of an experiment's runs, filtered with MLflow's search syntax
    /// and sorted by MLflow; returns the runs and the next page's token.
    pub async fn runs(&self, team: &str, experiment: &str, filter: &str, order_by: &str, page: Option<&str>, size: u32) -> AppResult<(Vec<RunRow>, Option<String>)> {
        let body = json!({
            "experiment_ids": [experiment],
            "filter": filter.trim(),
            "max_results": size,
            "order_by": [order_by],
            "page_token": page,
            "run_view_type": "ACTIVE_ONLY",
        });
        let got: Value = self
            .call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/runs/search", Some(body))
            .await
            .map_err(|e| match e {
                AppError::Invalid(m) => AppError::Invalid(format!("MLflow cannot use this filter or sort: {m}")),
                other => other,
            })?;
        let runs = got["runs"].as_array().into_iter().flatten().map(run).collect();
        Ok((runs, got["next_page_token"].as_str().filter(|t| !t.is_empty()).map(String::from)))
    }

    /// The runs a pipeline run's steps logged (tagged with its name), in any
    /// experiment of the team, newest first: (experiment id, run id, name).
    pub async fn runs_of_pipeline(&self, team: &str, pipeline_run: &str) -> AppResult<Vec<(String, String, String)>> {
        let ids: Vec<String> = self.experiments(team, false).await?.into_iter().map(|e| e.id).collect();
        let tag = crate::pipelines::workflow::PIPELINE_RUN_TAG;
        let filter = format!("tags.`{tag}` = '{}'", pipeline_run.replace('\'', "\\'"));
        let mut found = Vec::new();
        for chunk in ids.chunks(100) {
            let body = json!({
                "experiment_ids": chunk,
                "filter": filter,
                "max_results": 100,
                "order_by": ["attributes.start_time DESC"],
                "run_view_type": "ACTIVE_ONLY",
            });
            let got: Value = self.call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/runs/search", Some(body)).await?;
            found.extend(got["runs"].as_array().into_iter().flatten().map(|r| {
                let row = run(r);
                (r["info"]["experiment_id"].as_str().unwrap_or_default().to_string(), row.id, row.name)
            }));
        }
        Ok(found)
    }

    /// The latest metrics of these runs (ids as MLflow gave them), wherever
    /// in the team's experiments they are: one search per 100 runs.
    pub async fn metrics_of_runs(&self, team: &str, runs: &[String]) -> AppResult<std::collections::HashMap<String, Vec<(String, f64)>>> {
        let mut found = std::collections::HashMap::new();
        if runs.is_empty() {
            return Ok(found);
        }
        let ids: Vec<String> = self.experiments(team, false).await?.into_iter().map(|e| e.id).collect();
        for chunk in runs.chunks(100) {
            let list = chunk.iter().map(|r| format!("'{}'", r.replace('\'', ""))).collect::<Vec<_>>().join(", ");
            let body = json!({
                "experiment_ids": ids,
                "filter": format!("attributes.run_id IN ({list})"),
                "max_results": chunk.len(),
                "run_view_type": "ACTIVE_ONLY",
            });
            let got: Value = self.call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/runs/search", Some(body)).await?;
            found.extend(got["runs"].as_array().into_iter().flatten().map(|r| {
                let row = run(r);
                (row.id, row.metrics)
            }));
        }
        Ok(found)
    }

    /// These runs of the experiment (ids checked by the caller), in one search.
    pub async fn runs_by_id(&self, team: &str, experiment: &str, ids: &[String]) -> AppResult<Vec<RunRow>> {
        let list = ids.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", ");
        let (runs, _) = self.runs(team, experiment, &format!("attributes.run_id IN ({list})"), "attributes.start_time DESC", None, ids.len() as u32).await?;
        Ok(runs)
    }

    pub async fn run(&self, team: &str, id: &str) -> AppResult<(RunRow, String, Option<String>)> {
        self.ensure_workspace(team).await?;
        let got: Value = self
            .call(Some(team), reqwest::Method::GET, &format!("/api/2.0/mlflow/runs/get?run_id={}", enc(id)), None)
            .await
            .map_err(|e| not_found(e, "There is no such run in this team."))?;
        let r = &got["run"];
        let description = tags(&r["data"]["tags"]).into_iter().find(|(k, _)| k == "mlflow.note.content").map(|(_, v)| v);
        let experiment = r["info"]["experiment_id"].as_str().unwrap_or_default().to_string();
        Ok((run(r), experiment, description))
    }

    /// The files and folders of a run's artifacts in `dir` ("" for the top).
    pub async fn artifacts(&self, team: &str, run: &str, dir: &str) -> AppResult<Vec<ArtifactEntry>> {
        let mut path = format!("/api/2.0/mlflow/artifacts/list?run_id={}", enc(run));
        if !dir.is_empty() {
            path.push_str(&format!("&path={}", enc(dir)));
        }
        let got: Value = self.call(Some(team), reqwest::Method::GET, &path, None).await.map_err(|e| not_found(e, "There is no such folder."))?;
        let mut entries: Vec<ArtifactEntry> = got["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                Some(ArtifactEntry { path: f["path"].as_str()?.to_string(), is_dir: f["is_dir"].as_bool().unwrap_or(false), size: f["file_size"].as_u64() })
            })
            .collect();
        entries.sort_by(|a, b| (!a.is_dir, &a.path).cmp(&(!b.is_dir, &b.path)));
        Ok(entries)
    }

    /// One artifact of a run, as MLflow sends it (for the portal to relay).
    pub async fn artifact(&self, team: &str, run: &str, path: &str) -> AppResult<reqwest::Response> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}/get-artifact?run_id={}&path={}", self.base, enc(run), enc(path));
        let sent = self.relay.get(url).header(WORKSPACE_HEADER, team).send().await;
        crate::platform::metrics::metrics().mlflow("get-artifact", sent.as_ref().ok().map(|r| r.status().as_u16()));
        let res = sent.map_err(unavailable)?;
        match res.status().as_u16() {
            200 => Ok(res),
            400 | 404 => Err(AppError::NotFound("There is no such file in this run.".into())),
            s => Err(AppError::internal(format!("MLflow get-artifact answered {s}"))),
        }
    }

    /// The models a run logged (MLflow 3 logged models), with each one's
    /// flavors and signature from its `MLmodel` file.
    pub async fn logged_models(&self, team: &str, experiment: &str, run: &str) -> AppResult<Vec<LoggedModel>> {
        let body = json!({ "experiment_ids": [experiment], "filter": format!("source_run_id = '{run}'"), "max_results": 20 });
        let got: Value = self.call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/logged-models/search", Some(body)).await?;
        let infos: Vec<(String, String, String)> = got["models"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let i = &m["info"];
                Some((i["model_id"].as_str()?.to_string(), i["name"].as_str().unwrap_or_default().to_string(), i["status"].as_str().unwrap_or_default().to_string()))
            })
            .collect();
        let mut models = Vec::new();
        for (id, name, status) in infos {
            let (flavors, inputs, outputs) = self.mlmodel(team, &id).await.unwrap_or_default();
            models.push(LoggedModel { id, name, ready: status == "LOGGED_MODEL_READY", flavors, inputs, outputs });
        }
        Ok(models)
    }

    /// A logged model's flavors and signature (inputs, outputs) as MLflow
    /// wrote them in its `MLmodel` file; empty when it has none.
    async fn mlmodel(&self, team: &str, model: &str) -> AppResult<(Vec<String>, Option<String>, Option<String>)> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}/ajax-api/2.0/mlflow/logged-models/{}/artifacts/files?artifact_file_path=MLmodel", self.base, enc(model));
        let sent = self.http.get(url).header(WORKSPACE_HEADER, team).send().await;
        crate::platform::metrics::metrics().mlflow("logged-models", sent.as_ref().ok().map(|r| r.status().as_u16()));
        let res = sent.map_err(unavailable)?;
        if !res.status().is_success() {
            return Ok(Default::default());
        }
        let text = res.text().await.map_err(unavailable)?;
        let doc: Value = serde_saphyr::from_str(&text).unwrap_or(Value::Null);
        let flavors = doc["flavors"].as_object().map(|f| f.keys().cloned().collect()).unwrap_or_default();
        let part = |k: &str| doc["signature"][k].as_str().map(String::from);
        Ok((flavors, part("inputs"), part("outputs")))
    }

    /// Registers a logged model as a new version of the registered model
    /// `name` (made first if the team has none of that name).
    pub async fn register(&self, team: &str, name: &str, model: &str, run: &str) -> AppResult<String> {
        let made: AppResult<Value> = self.call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": name }))).await;
        match made {
            Ok(_) | Err(AppError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        let body = json!({ "name": name, "source": format!("models:/{model}"), "run_id": run, "model_id": model });
        let version: Value = self.call(Some(team), reqwest::Method::POST, "/api/2.0/mlflow/model-versions/create", Some(body)).await?;
        Ok(version["model_version"]["version"].as_str().unwrap_or_default().to_string())
    }

    /// A metric's history for some runs of the team, sampled by MLflow to at
    /// most `max` points per run between the steps asked for: (run, step,
    /// time in ms, value), in step order per run.
    /// The history of metric `key` of `runs`, sampled by MLflow to at most
    /// `max` points per run between steps `from` and `to`. When every run
    /// has `finished`, the answer is kept for [`FINISHED_HISTORY_TTL`].
    pub async fn history(&self, team: &str, runs: &[String], key: &str, from: Option<i64>, to: Option<i64>, max: u32, finished: bool) -> AppResult<Vec<Point>> {
        let mut q: Vec<String> = runs.iter().map(|r| format!("run_ids={}", enc(r))).collect();
        q.push(format!("metric_key={}", enc(key)));
        q.push(format!("max_results={max}"));
        // MLflow takes both ends of a range or neither.
        if from.is_some() || to.is_some() {
            q.push(format!("start_step={}", from.unwrap_or(i64::MIN)));
            q.push(format!("end_step={}", to.unwrap_or(i64::MAX)));
        }
        let path = format!("/api/2.0/mlflow/metrics/get-history-bulk-interval?{}", q.join("&"));
        let kept = format!("{team} {path}");
        if finished
            && let Some((at, points)) = self.histories.lock().unwrap().get(&kept)
            && at.elapsed() < FINISHED_HISTORY_TTL
        {
            return Ok(points.as_ref().clone());
        }
        let got: Value = self.call(Some(team), reqwest::Method::GET, &path, None).await?;
        let mut out: Vec<Point> = got["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                Some((
                    m["run_id"].as_str()?.to_string(),
                    m["step"].as_i64().unwrap_or(0),
                    m["timestamp"].as_i64().unwrap_or(0),
                    m["value"].as_f64()?,
                ))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        if finished {
            let mut kept_all = self.histories.lock().unwrap();
            if kept_all.len() >= HISTORIES_KEPT {
                kept_all.retain(|_, (at, _)| at.elapsed() < FINISHED_HISTORY_TTL);
                if kept_all.len() >= HISTORIES_KEPT
                    && let Some(oldest) = kept_all.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
                {
                    kept_all.remove(&oldest);
                }
            }
            kept_all.insert(kept, (Instant::now(), Arc::new(out.clone())));
        }
        Ok(out)
    }

    /// Forgets the kept histories of `run` (it logged again).
    pub fn forget_histories(&self, team: &str, run: &str) {
        let (prefix, id) = (format!("{team} "), format!("run_ids={}", enc(run)));
        self.histories.lock().unwrap().retain(|k, _| !(k.starts_with(&prefix) && k.split(['?', '&']).any(|p| p == id)));
    }

    /// Samples the charts of a run that just finished, as its page will ask
    /// for them, so that the first person to open it waits for none.
    pub async fn warm_charts(&self, team: &str, run: &str) -> AppResult<()> {
        let (found, _, _) = self.run(team, run).await?;
        if !super::model::finished(&found.status) {
            return Ok(());
        }
        let ids = [found.id.clone()];
        for (key, _) in found.metrics.iter().take(super::api::CHARTS_PER_RUN) {
            self.history(team, &ids, key, None, None, super::chart::MAX_POINTS as u32, true).await?;
        }
        Ok(())
    }

    /// Whether the server answers at all (readiness of the experiments pages).
    pub async fn health(&self) -> AppResult<()> {
        let resp = self.http.get(format!("{}/health", self.base)).send().await.map_err(unavailable)?;
        if resp.status().is_success() { Ok(()) } else { Err(AppError::TrackingServerUnavailable) }
    }
}

pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unavailable(e: reqwest::Error) -> AppError {
    tracing::warn!(error = %e, "MLflow did not answer");
    AppError::TrackingServerUnavailable
}

/// MLflow's refusal as a sentence. Its messages about a request's own
/// content (a filter, a name) are shown; anything else is logged.
fn refusal(status: u16, err: &MlflowError, path: &str) -> AppError {
    match (status, err.error_code.as_str()) {
        (404, _) | (_, "RESOURCE_DOES_NOT_EXIST") => AppError::NotFound(err.message.clone()),
        (_, "RESOURCE_ALREADY_EXISTS") => AppError::Conflict(err.message.clone()),
        (400, _) | (_, "INVALID_PARAMETER_VALUE") | (_, "BAD_REQUEST") => AppError::Invalid(err.message.chars().take(300).collect()),
        (502..=504, _) => AppError::TrackingServerUnavailable,
        _ => AppError::internal(format!("MLflow {path} answered {status}: {} {}", err.error_code, err.message)),
    }
}

/// A 404 (or an id MLflow cannot parse) said the portal's way.
pub(crate) fn not_found(e: AppError, words: &str) -> AppError {
    match e {
        AppError::NotFound(_) | AppError::Invalid(_) => AppError::NotFound(words.into()),
        other => other,
    }
}

pub(crate) fn tags(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["key"].as_str()?.to_string(), t["value"].as_str().unwrap_or_default().to_string())))
        .collect()
}

fn experiment(team: &str, e: &Value) -> ExperimentRow {
    let all = tags(&e["tags"]);
    let owner = all
        .iter()
        .find(|(k, _)| k == "atrium.io/created-by")
        .or_else(|| all.iter().find(|(k, _)| k == "mlflow.ownerEmail" || k == "mlflow.user"))
        .map(|(_, v)| v.clone());
    ExperimentRow {
        team: team.to_string(),
        id: e["experiment_id"].as_str().unwrap_or_default().to_string(),
        name: e["name"].as_str().unwrap_or_default().to_string(),
        deleted: e["lifecycle_stage"].as_str() == Some("deleted"),
        created_ms: e["creation_time"].as_i64().unwrap_or_default(),
        updated_ms: e["last_update_time"].as_i64().unwrap_or_default(),
        owner,
        tags: all.into_iter().filter(|(k, _)| !k.starts_with("mlflow.") && !k.starts_with("atrium.io/")).collect(),
        last_run_ms: None,
    }
}

fn run(r: &Value) -> RunRow {
    let info = &r["info"];
    let data = &r["data"];
    let all = tags(&data["tags"]);
    let tag = |k: &str| all.iter().find(|(t, _)| t == k).map(|(_, v)| v.clone());
    let mut params: Vec<(String, String)> = data["params"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["key"].as_str()?.to_string(), p["value"].as_str().unwrap_or_default().to_string())))
        .collect();
    params.sort();
    let mut metrics: Vec<(String, f64)> =
        data["metrics"].as_array().into_iter().flatten().filter_map(|m| Some((m["key"].as_str()?.to_string(), m["value"].as_f64()?))).collect();
    metrics.sort_by(|a, b| a.0.cmp(&b.0));
    let stepped = data["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["step"].as_i64().or_else(|| m["step"].as_str()?.parse().ok()).unwrap_or(0) != 0)
        .filter_map(|m| Some(m["key"].as_str()?.to_string()))
        .collect();
    RunRow {
        id: info["run_id"].as_str().unwrap_or_default().to_string(),
        name: info["run_name"].as_str().map(String::from).or_else(|| tag("mlflow.runName")).unwrap_or_default(),
        status: info["status"].as_str().unwrap_or_default().to_string(),
        user: info["user_id"].as_str().filter(|u| !u.is_empty()).map(String::from).or_else(|| tag("mlflow.user")),
        start_ms: info["start_time"].as_i64(),
        end_ms: info["end_time"].as_i64(),
        source: tag("mlflow.source.name"),
        commit: tag("mlflow.source.git.commit"),
        notebook: tag(super::gateway::NOTEBOOK_TAG),
        pipeline_run: tag(crate::pipelines::workflow::PIPELINE_RUN_TAG),
        params,
        metrics,
        stepped,
        tags: all
            .iter()
            .filter(|(k, _)| !k.starts_with("mlflow.") && k != super::gateway::NOTEBOOK_TAG && k != crate::pipelines::workflow::PIPELINE_RUN_TAG)
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_sentences_and_hide_internals() {
        let e = |code: &str, msg: &str| MlflowError { error_code: code.into(), message: msg.into() };
        assert!(matches!(refusal(404, &e("RESOURCE_DOES_NOT_EXIST", "x"), "/p"), AppError::NotFound(_)));
        assert_eq!(
            refusal(400, &e("INVALID_PARAMETER_VALUE", "Invalid comparator '>>'"), "/p"),
            AppError::Invalid("Invalid comparator '>>'".into())
        );
        assert!(matches!(refusal(500, &e("INTERNAL_ERROR", "Traceback ... secret"), "/p"), AppError::Internal(_)));
        assert_eq!(refusal(503, &e("", ""), "/p"), AppError::TrackingServerUnavailable);
    }

    #[test]
    fn a_run_reads_its_source_and_hides_mlflow_tags() {
        let v = json!({
            "info": { "run_id": "r1", "run_name": "lr-0.1", "status": "FINISHED", "user_id": "alice", "start_time": 1000, "end_time": 61000 },
            "data": {
                "params": [{ "key": "lr", "value": "0.1" }],
                "metrics": [{ "key": "rmse", "value": 0.25, "step": 3, "timestamp": 5 }],
                "tags": [{ "key": "mlflow.source.name", "value": "train.ipynb" }, { "key": "team-note", "value": "x" }]
            }
        });
        let r = run(&v);
        assert_eq!((r.name.as_str(), r.source.as_deref(), r.metric("rmse")), ("lr-0.1", Some("train.ipynb"), Some(0.25)));
        assert_eq!(r.tags, vec![("team-note".to_string(), "x".to_string())]);
        assert_eq!(r.duration(0).as_deref(), Some("1 min"));
    }
}
