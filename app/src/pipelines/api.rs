//! Server functions of the pipelines pages. Every call is made to
//! Kubernetes as the signed-in person: Argo's `WorkflowTemplate` (a saved
//! pipeline) and `Workflow` (a run) in the team's namespace, so RBAC (the
//! data engineer persona) decides, and the real Argo controller runs them.

use super::model::{Pipeline, Problem};
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Runs listed per page (Kubernetes `limit`; `continue` for the next).
pub const RUNS_PER_PAGE: u32 = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineRow {
    pub team: String,
    pub name: String,
    pub description: String,
    pub steps: usize,
    pub created: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineList {
    pub rows: Vec<PipelineRow>,
    /// Teams shown, and whether the person may save pipelines there.
    pub teams: Vec<(String, bool)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineDetail {
    pub team: String,
    /// The pipeline, or why the editor cannot show this template.
    pub pipeline: Result<Pipeline, String>,
    /// The WorkflowTemplate as Kubernetes keeps it (JSON, laid out).
    pub source: String,
    pub may_change: bool,
    pub may_run: bool,
    /// The newest runs of this pipeline.
    pub runs: Vec<RunRow>,
    pub schedules: Vec<crate::pipelines::schedules::ScheduleRow>,
    /// Whether the person may make and change schedules of this pipeline.
    pub may_schedule: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub name: String,
    pub pipeline: String,
    /// Pending, Running, Succeeded, Failed or Error (Argo's phases).
    pub phase: String,
    pub started_by: String,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunList {
    pub team: String,
    pub rows: Vec<RunRow>,
    /// Kubernetes' token for the next page (only while the portal's index
    /// of runs is not ready: then runs come from Kubernetes, unfiltered).
    pub next: Option<String>,
    pub now_ms: i64,
    /// From the index: runs that pass the filter, this page (from 0), and
    /// the team's runs by phase.
    pub indexed: Option<(usize, usize, Vec<(String, usize)>)>,
}

/// One step of a run, as Argo's node status tells it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub step: String,
    pub phase: String,
    /// Why it failed, in words (Argo's message, e.g. "main: Error (exit code 3)").
    pub message: String,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// Tries so far (retries make more than one).
    pub tries: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub team: String,
    pub row: RunRow,
    pub steps: Vec<StepState>,
    /// The pipeline's steps by depth, for the diagram (from the run's own copy).
    pub layers: Vec<Vec<String>>,
    /// (step, the steps it waits for).
    pub edges: Vec<(String, Vec<String>)>,
    pub params: Vec<(String, String)>,
    pub may_stop: bool,
    /// Whether the person may start runs (to run this one again).
    pub may_rerun: bool,
    pub now_ms: i64,
    /// The run's resourceVersion as read (see `await_run`).
    pub version: String,
    /// Lineage: the notebook files the run's steps executed, as (step, path).
    pub notebooks: Vec<(String, String)>,
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::pipelines::workflow::{self, api_resource};
    use crate::platform::kube::explain;
    use kube::api::{Api, DynamicObject, ListParams, PostParams};
    use serde_json::Value;

    pub fn api(client: kube::Client, team: &str, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client, team, &api_resource(kind))
    }

    pub async fn may(state: &crate::state::AppState, who: &crate::auth::SignedIn, team: &str, resource: &str, verb: &str) -> Result<bool, AppError> {
        use crate::platform::access::Ask;
        let client = state.kube.for_user(who)?;
        let ask = Ask { group: workflow::GROUP, resource, verb, namespace: Some(team), name: None };
        state.access.may(&client, who.session_key(), ask).await
    }

    /// The team's quota in all, read as the person (none: no limit).
    pub async fn quota(client: &crate::platform::kube::UserClient, team: &str) -> Result<super::super::model::StepQuota, AppError> {
        use k8s_openapi::api::core::v1::ResourceQuota;
        let found = kube::Api::<ResourceQuota>::namespaced(client.client(), team)
            .get_opt(crate::teams::quota_server::QUOTA_NAME)
            .await
            .map_err(|e| crate::platform::kube::explain(e, "this team's quota"))?;
        let hard = found.and_then(|q| q.spec).and_then(|s| s.hard).unwrap_or_default();
        Ok(super::super::model::StepQuota::from_hard(hard.iter().map(|(k, v)| (k.as_str(), v.0.as_str()))))
    }

    pub fn time_ms(v: &Value) -> Option<i64> {
        let s = v.as_str()?;
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    pub fn run_row(o: &DynamicObject) -> RunRow {
        let status = &o.data["status"];
        RunRow {
            name: o.metadata.name.clone().unwrap_or_default(),
            pipeline: o.data["spec"]["workflowTemplateRef"]["name"].as_str().unwrap_or_default().into(),
            phase: status["phase"].as_str().filter(|p| !p.is_empty()).unwrap_or("Pending").into(),
            started_by: o.metadata.annotations.as_ref().and_then(|a| a.get("atrium.io/started-by").cloned()).unwrap_or_default(),
            started_ms: time_ms(&status["startedAt"]),
            finished_ms: time_ms(&status["finishedAt"]),
            message: status["message"].as_str().unwrap_or_default().into(),
        }
    }

    /// The runtime images a step may use: the catalog's enabled images.
    pub fn images(state: &crate::state::AppState) -> Vec<String> {
        state.notebooks.catalog().images.iter().filter(|i| i.enabled).map(|i| i.reference()).collect()
    }

    pub fn now_ms() -> i64 {
        (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub async fn list_runs(client: kube::Client, team: &str, pipeline: Option<&str>, cont: Option<&str>, limit: u32) -> Result<(Vec<RunRow>, Option<String>), AppError> {
        let mut lp = ListParams::default().limit(limit);
        if let Some(p) = pipeline {
            lp = lp.labels(&format!("workflows.argoproj.io/workflow-template={p}"));
        }
        if let Some(c) = cont {
            lp = lp.continue_token(c);
        }
        let list = api(client, team, "Workflow").list(&lp).await.map_err(|e| explain(e, &format!("the runs of team “{team}”")))?;
        let mut rows: Vec<RunRow> = list.items.iter().map(run_row).collect();
        rows.sort_by(|a, b| b.started_ms.cmp(&a.started_ms).then(b.name.cmp(&a.name)));
        Ok((rows, list.metadata.continue_.filter(|c| !c.is_empty())))
    }

    /// The names of the parameters a saved pipeline (WorkflowTemplate) declares.
    pub fn declared_params(template: &DynamicObject) -> Vec<String> {
        template.data["spec"]["arguments"]["parameters"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str().map(String::from)).collect()
    }

    pub async fn create_checked(api: &Api<DynamicObject>, obj: &DynamicObject, what: &str) -> Result<DynamicObject, AppError> {
        let dry = PostParams { dry_run: true, ..Default::default() };
        api.create(&dry, obj).await.map_err(|e| explain(e, what))?;
        api.create(&PostParams::default(), obj).await.map_err(|e| explain(e, what))
    }

    /// `object` (a run or a schedule) with its steps logging to the team's
    /// MLflow workspace, when the portal has MLflow; makes the token Secret
    /// they log with (of the namespace's `default` ServiceAccount, which
    /// steps run as) if the team has none yet, as the person. Without it the
    /// run still starts: its steps cannot log, which is logged here.
    pub async fn tracked(state: &crate::state::AppState, client: &kube::Client, team: &str, object: serde_json::Value) -> serde_json::Value {
        use k8s_openapi::api::core::v1::Secret;
        use crate::pipelines::workflow::{MANAGED_BY, TRACKING_SECRET, with_tracking};
        let Some(base) = state.config.tracking_base() else {
            return object;
        };
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(TRACKING_SECRET.into()),
                annotations: Some([("kubernetes.io/service-account.name".to_string(), "default".to_string())].into()),
                labels: Some([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into()),
                ..Default::default()
            },
            type_: Some("kubernetes.io/service-account-token".into()),
            ..Default::default()
        };
        match Api::<Secret>::namespaced(client.clone(), team).create(&PostParams::default(), &secret).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => tracing::warn!(team, error = %e, "pipeline steps get no MLflow token: the Secret could not be made"),
        }
        with_tracking(object, Some(&crate::notebooks::manifest::tracking_uri(&base, team)), team)
    }
}

/// Pipelines of every team the person may see (or of `team`).
#[server(endpoint = "pipelines")]
pub async fn get_pipelines(team: Option<String>) -> Result<PipelineList, AppError> {
    use kube::api::ListParams;
    let (state, who) = crate::auth::current().await?;
    let names: Vec<String> = match &team {
        Some(t) => vec![t.clone()],
        None => crate::shell::my_teams(&state, &who).await?.into_iter().map(|t| t.name).collect(),
    };
    let checks = names.iter().map(|t| async {
        let (read, write) = futures::join!(server::may(&state, &who, t, "workflowtemplates", "list"), server::may(&state, &who, t, "workflowtemplates", "create"));
        Ok::<_, AppError>((t.clone(), read?, write?))
    });
    let teams: Vec<(String, bool)> = futures::future::try_join_all(checks).await?.into_iter().filter(|(_, r, _)| *r).map(|(t, _, w)| (t, w)).collect();
    if let Some(t) = &team
        && teams.is_empty()
    {
        return Err(AppError::Forbidden(format!("You may not see the pipelines of team “{t}”.")));
    }
    let client = state.kube.for_user(&who)?.client();
    let lists = futures::future::try_join_all(teams.iter().map(|(t, _)| {
        let api = server::api(client.clone(), t, "WorkflowTemplate");
        async move {
            let list = api.list(&ListParams::default()).await.map_err(|e| crate::platform::kube::explain(e, &format!("the pipelines of team “{t}”")))?;
            Ok::<_, AppError>(list.items.into_iter().map(|o| PipelineRow {
                team: t.clone(),
                name: o.metadata.name.clone().unwrap_or_default(),
                description: o.metadata.annotations.as_ref().and_then(|a| a.get("atrium.io/description").cloned()).unwrap_or_default(),
                steps: o.data["spec"]["templates"][0]["dag"]["tasks"].as_array().map(Vec::len).unwrap_or(0),
                created: o.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()).unwrap_or_default(),
            }).collect::<Vec<_>>())
        }
    }))
    .await?;
    let mut rows: Vec<PipelineRow> = lists.into_iter().flatten().collect();
    rows.sort_by(|a, b| a.team.cmp(&b.team).then(a.name.cmp(&b.name)));
    Ok(PipelineList { rows, teams })
}

/// What the steps of a pipeline of a team may use: the catalog's runtime
/// images and the team's data connections.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepChoices {
    pub images: Vec<String>,
    pub connections: Vec<String>,
    /// The team's quota in all (what one step may ask for at most).
    pub quota: super::model::StepQuota,
}

/// What a step of a pipeline of `team` may use, for the editor (refused to
/// those who may not save pipelines there).
#[server(endpoint = "pipeline-images")]
pub async fn get_step_choices(team: String) -> Result<StepChoices, AppError> {
    let (state, who) = crate::auth::current().await?;
    if !server::may(&state, &who, &team, "workflowtemplates", "create").await? {
        return Err(AppError::Forbidden(format!("You may not make pipelines in team “{team}”.")));
    }
    let client = state.kube.for_user(&who)?;
    let (connections, quota) = futures::join!(crate::notebooks::ops::connections(&client, &team), server::quota(&client, &team));
    Ok(StepChoices { images: server::images(&state), connections: connections?, quota: quota? })
}

/// Problems of a pipeline as it stands (the editor shows them at each step).
#[server(endpoint = "pipeline-check", input = leptos::server_fn::codec::Json)]
pub async fn check_pipeline(pipeline: Pipeline) -> Result<Vec<Problem>, AppError> {
    let (state, _who) = crate::auth::current().await?;
    Ok(pipeline.problems(&server::images(&state), None))
}

/// Saves a pipeline as the team's WorkflowTemplate: `new` makes it (refused
/// if the name is taken), otherwise it replaces the saved one. Checked in
/// full, then dry-run by Kubernetes, then written; audited.
#[server(endpoint = "pipeline-save", input = leptos::server_fn::codec::Json)]
pub async fn save_pipeline(team: String, pipeline: Pipeline, new: bool) -> Result<(), AppError> {
    use kube::api::{DynamicObject, PostParams};
    let me = crate::audit::server::Actor::current().await?;
    let client = me.state.kube.for_user(&me.who)?;
    let images = server::images(&me.state);
    let mut problems = pipeline.problems(&images, None);
    if problems.is_empty() {
        // Then what only the team can answer, read as the person: its data
        // connections (when steps use any) and its quota.
        if pipeline.steps.iter().any(|s| !s.connections.is_empty()) {
            let known = crate::notebooks::ops::connections(&client, &team).await?;
            problems = pipeline.problems(&images, Some(&known));
        }
        problems.extend(pipeline.quota_problems(&server::quota(&client, &team).await?));
    }
    if let Some(first) = problems.first() {
        let at = first.step.as_ref().map(|s| format!("Step “{s}”: ")).unwrap_or_default();
        let more = if problems.len() > 1 { format!(" ({} problems in all)", problems.len()) } else { String::new() };
        return Err(AppError::Invalid(format!("{at}{}{more}", first.message)));
    }
    let api = server::api(client.client(), &team, "WorkflowTemplate");
    let what = format!("pipeline “{}”", pipeline.name);
    let mut obj: DynamicObject = serde_json::from_value(super::workflow::to_template(&pipeline, &team)).map_err(AppError::internal)?;
    let work = async {
        if new {
            server::create_checked(&api, &obj, &what).await.map(drop)
        } else {
            let current = api.get(&pipeline.name).await.map_err(|e| crate::platform::kube::explain(e, &what))?;
            obj.metadata.resource_version = current.metadata.resource_version;
            let dry = PostParams { dry_run: true, ..Default::default() };
            api.replace(&pipeline.name, &dry, &obj).await.map_err(|e| crate::platform::kube::explain(e, &what))?;
            api.replace(&pipeline.name, &PostParams::default(), &obj).await.map(drop).map_err(|e| crate::platform::kube::explain(e, &what))
        }
    };
    let action = if new { "pipeline.create" } else { "pipeline.update" };
    me.audited(Some(&team), action, &format!("pipeline {}", pipeline.name), work).await
}

#[server(endpoint = "pipeline")]
pub async fn get_pipeline(team: String, name: String) -> Result<PipelineDetail, AppError> {
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?.client();
    let what = format!("pipeline “{name}” in team “{team}”");
    let templates = server::api(client.clone(), &team, "WorkflowTemplate");
    let (found, runs, schedules, may_change, may_run, may_schedule) = futures::join!(
        templates.get(&name),
        server::list_runs(client.clone(), &team, Some(&name), None, 20),
        crate::pipelines::schedules::server::list(client.clone(), &team, &name),
        server::may(&state, &who, &team, "workflowtemplates", "update"),
        server::may(&state, &who, &team, "workflows", "create"),
        server::may(&state, &who, &team, "cronworkflows", "create"),
    );
    let found = found.map_err(|e| crate::platform::kube::explain(e, &what))?;
    let mut value = serde_json::to_value(&found).map_err(AppError::internal)?;
    if let Some(meta) = value["metadata"].as_object_mut() {
        for noise in ["managedFields", "uid", "generation", "resourceVersion", "creationTimestamp"] {
            meta.remove(noise);
        }
    }
    let pipeline = super::workflow::from_template(&value);
    Ok(PipelineDetail {
        team,
        pipeline,
        source: serde_json::to_string_pretty(&value).unwrap_or_default(),
        may_change: may_change?,
        may_run: may_run?,
        runs: runs.map(|(r, _)| r).unwrap_or_default(),
        schedules: schedules.unwrap_or_default(),
        may_schedule: may_schedule?,
    })
}

/// Starts a run of a saved pipeline with `params` (name, value); returns the
/// run's name. Values of parameters the pipeline does not have are refused.
#[server(endpoint = "pipeline-run", input = leptos::server_fn::codec::Json)]
pub async fn run_pipeline(team: String, name: String, params: Vec<(String, String)>) -> Result<String, AppError> {
    use kube::api::DynamicObject;
    let me = crate::audit::server::Actor::current().await?;
    let client = me.state.kube.for_user(&me.who)?.client();
    let what = format!("pipeline “{name}” in team “{team}”");
    let template = server::api(client.clone(), &team, "WorkflowTemplate").get(&name).await.map_err(|e| crate::platform::kube::explain(e, &what))?;
    let declared = server::declared_params(&template);
    if let Some((unknown, _)) = params.iter().find(|(k, _)| !declared.contains(k)) {
        return Err(AppError::Invalid(format!("The pipeline has no parameter “{unknown}”.")));
    }
    let run = server::tracked(&me.state, &client, &team, super::workflow::run_of(&name, &team, &params, me.username())).await;
    let obj: DynamicObject = serde_json::from_value(run).map_err(AppError::internal)?;
    let api = server::api(client, &team, "Workflow");
    let work = async {
        let made = server::create_checked(&api, &obj, &format!("a run of {what}")).await?;
        Ok(made.metadata.name.unwrap_or_default())
    };
    me.audited(Some(&team), "pipeline.run", &format!("pipeline {name}"), work).await
}

/// Stops a run that is still going: `terminate` ends it at once, otherwise
/// running steps finish and no new ones start (Argo's `shutdown`). Audited.
#[server(endpoint = "pipeline-run-stop")]
pub async fn stop_run(team: String, run: String, terminate: bool) -> Result<(), AppError> {
    use kube::api::{Patch, PatchParams};
    let me = crate::audit::server::Actor::current().await?;
    let client = me.state.kube.for_user(&me.who)?.client();
    let api = server::api(client, &team, "Workflow");
    let what = format!("run “{run}” in team “{team}”");
    let work = async {
        let found = api.get(&run).await.map_err(|e| crate::platform::kube::explain(e, &what))?;
        let phase = server::run_row(&found).phase;
        if !matches!(phase.as_str(), "Pending" | "Running") {
            return Err(AppError::Conflict(format!("Run “{run}” has already ended ({phase}).")));
        }
        let how = if terminate { "Terminate" } else { "Stop" };
        let patch = Patch::Merge(serde_json::json!({ "spec": { "shutdown": how } }));
        api.patch(&run, &PatchParams::default(), &patch).await.map(drop).map_err(|e| crate::platform::kube::explain(e, &what))
    };
    let action = if terminate { "pipeline.terminate" } else { "pipeline.stop" };
    me.audited(Some(&team), action, &format!("run {run}"), work).await
}

/// Retries a failed run in place, as Argo's own retry does: the failed
/// steps and what waits for them start again, the steps that succeeded are
/// kept (`super::retry`). The failed steps' pods are deleted first, as the
/// person (the team fence lets people delete only pipeline step pods), then
/// the run is rewritten, also as the person. Audited.
#[server(endpoint = "pipeline-run-retry")]
pub async fn retry_run(team: String, run: String) -> Result<(), AppError> {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
    let me = crate::audit::server::Actor::current().await?;
    let client = me.state.kube.for_user(&me.who)?.client();
    let workflows = server::api(client.clone(), &team, "Workflow");
    let what = format!("run “{run}” in team “{team}”");
    let explain = |e| crate::platform::kube::explain(e, &what);
    let work = async {
        // Refused before anything is touched to those who may not rewrite runs.
        if !server::may(&me.state, &me.who, &team, "workflows", "update").await? {
            return Err(AppError::Forbidden(format!("You may not retry runs in team “{team}”.")));
        }
        let found = workflows.get(&run).await.map_err(explain)?;
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).map_err(AppError::internal)?;
        let plan = super::retry::plan(&serde_json::to_value(&found).map_err(AppError::internal)?, &now).map_err(AppError::Conflict)?;
        let pods = Api::<Pod>::namespaced(client.clone(), &team);
        let of_run = ListParams::default().labels(&format!("workflows.argoproj.io/workflow={run}"));
        let doomed: Vec<String> = pods
            .list_metadata(&of_run)
            .await
            .map_err(explain)?
            .items
            .into_iter()
            .filter(|p| p.metadata.annotations.as_ref().and_then(|a| a.get("workflows.argoproj.io/node-id")).is_some_and(|id| plan.pod_nodes.contains(id)))
            .filter_map(|p| p.metadata.name)
            .collect();
        let now_gone = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
        for name in &doomed {
            match pods.delete(name, &now_gone).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(crate::platform::kube::explain(e, &format!("the pod of a failed step of run “{run}”"))),
            }
        }
        // Argo makes the retried steps' pods under the same names: the old ones must be gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = pods.list_metadata(&of_run).await.map_err(explain)?;
            if !left.items.iter().any(|p| p.metadata.name.as_ref().is_some_and(|n| doomed.contains(n))) {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(AppError::Conflict(format!("The failed steps' pods of run “{run}” are still being removed; try again in a moment.")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let next: DynamicObject = serde_json::from_value(plan.run).map_err(AppError::internal)?;
        workflows.replace(&run, &PostParams::default(), &next).await.map(drop).map_err(explain)
    };
    me.audited(Some(&team), "pipeline.retry", &format!("run {run}"), work).await
}

/// Starts a new run of the pipeline a run ran, with the same parameter
/// values; returns the new run's name. Audited.
#[server(endpoint = "pipeline-run-resubmit")]
pub async fn resubmit_run(team: String, run: String) -> Result<String, AppError> {
    use kube::api::DynamicObject;
    let me = crate::audit::server::Actor::current().await?;
    let client = me.state.kube.for_user(&me.who)?.client();
    let api = server::api(client.clone(), &team, "Workflow");
    let what = format!("run “{run}” in team “{team}”");
    let found = api.get(&run).await.map_err(|e| crate::platform::kube::explain(e, &what))?;
    let Some(template) = found.data["spec"]["workflowTemplateRef"]["name"].as_str().map(String::from) else {
        return Err(AppError::Invalid(format!("Run “{run}” was not started from a saved pipeline, so it cannot be started again here.")));
    };
    let params: Vec<(String, String)> = found.data["spec"]["arguments"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (p["name"].as_str().unwrap_or_default().to_string(), p["value"].as_str().unwrap_or_default().to_string()))
        .collect();
    let mut value = server::tracked(&me.state, &client, &team, super::workflow::run_of(&template, &team, &params, me.username())).await;
    value["metadata"]["annotations"]["atrium.io/resubmitted-from"] = serde_json::json!(run);
    let obj: DynamicObject = serde_json::from_value(value).map_err(AppError::internal)?;
    let work = async {
        let made = server::create_checked(&api, &obj, &format!("a new run of pipeline “{template}”")).await?;
        Ok(made.metadata.name.unwrap_or_default())
    };
    me.audited(Some(&team), "pipeline.resubmit", &format!("run {run}"), work).await
}

/// A page of the team's runs: from the portal's index of every run (newest
/// first, or as `sort` says, filtered by phase, pipeline and who started
/// it), or, until that index is ready, a page of Kubernetes' list.
#[server(endpoint = "pipeline-runs")]
pub async fn get_runs(
    team: String,
    page: Option<String>,
    phase: Option<String>,
    pipeline: Option<String>,
    by: Option<String>,
    sort: Option<String>,
) -> Result<RunList, AppError> {
    use super::index::{RunFilter, RunSort};
    let (state, who) = crate::auth::current().await?;
    let filter = RunFilter {
        phase: phase.unwrap_or_default().trim().to_string(),
        pipeline: pipeline.unwrap_or_default().trim().to_string(),
        by: by.unwrap_or_default().trim().to_string(),
    };
    let sort = RunSort::parse(sort.as_deref().unwrap_or_default());
    if state.runs.is_ready() {
        if !server::may(&state, &who, &team, "workflows", "list").await? {
            return Err(AppError::Forbidden(format!("You may not see the runs of team “{team}”.")));
        }
        let number: usize = page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0);
        let per = RUNS_PER_PAGE as usize;
        if let Some(found) = state.runs.page(&team, &filter, sort, number * per, per) {
            return Ok(RunList { team, rows: found.rows, next: None, now_ms: server::now_ms(), indexed: Some((found.total, number, found.phases)) });
        }
    }
    let client = state.kube.for_user(&who)?.client();
    let token = page.filter(|p| p.parse::<usize>().is_err());
    let (rows, next) = server::list_runs(client, &team, None, token.as_deref(), RUNS_PER_PAGE).await?;
    Ok(RunList { team, rows, next, now_ms: server::now_ms(), indexed: None })
}

/// Lineage: the MLflow runs this run's steps logged, as (experiment id, run
/// id, run name), newest first; none when the person may not see the
/// team's experiments or the portal has no MLflow.
#[server(endpoint = "pipeline-run-mlflow-runs")]
pub async fn get_run_mlflow_runs(team: String, run: String) -> Result<Vec<(String, String, String)>, AppError> {
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?.client();
    server::api(client, &team, "Workflow").get(&run).await.map_err(|e| crate::platform::kube::explain(e, &format!("run “{run}” in team “{team}”")))?;
    let Some(mlflow) = state.mlflow.as_ref() else { return Ok(Vec::new()) };
    if !crate::experiments::api::may(&state, &who, &team, "list").await? {
        return Ok(Vec::new());
    }
    mlflow.runs_of_pipeline(&team, &run).await
}

#[server(endpoint = "pipeline-run-detail")]
pub async fn get_run(team: String, run: String) -> Result<RunDetail, AppError> {
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?.client();
    let workflows = server::api(client, &team, "Workflow");
    let (found, may_stop, may_rerun) = futures::join!(
        workflows.get(&run),
        server::may(&state, &who, &team, "workflows", "patch"),
        server::may(&state, &who, &team, "workflows", "create"),
    );
    let found = found.map_err(|e| crate::platform::kube::explain(e, &format!("run “{run}” in team “{team}”")))?;
    let status = &found.data["status"];
    // The pipeline as it ran: Argo keeps the template's spec in the status.
    let spec = if status["storedWorkflowTemplateSpec"].is_object() { &status["storedWorkflowTemplateSpec"] } else { &found.data["spec"] };
    let tasks = spec["templates"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"].as_str() == spec["entrypoint"].as_str()))
        .and_then(|t| t["dag"]["tasks"].as_array().cloned())
        .unwrap_or_default();
    let edges: Vec<(String, Vec<String>)> = tasks
        .iter()
        .map(|t| {
            let deps = t["dependencies"].as_array().into_iter().flatten().filter_map(|d| d.as_str().map(String::from)).collect();
            (t["name"].as_str().unwrap_or_default().to_string(), deps)
        })
        .collect();
    let layers = super::model::Pipeline {
        steps: edges.iter().map(|(n, d)| super::model::Step { name: n.clone(), after: d.clone(), ..Default::default() }).collect(),
        ..Default::default()
    }
    .layers();
    let nodes: Vec<&serde_json::Value> = status["nodes"].as_object().map(|m| m.values().collect()).unwrap_or_default();
    let steps = edges
        .iter()
        .map(|(name, _)| {
            // A task's own node (Retry or Pod) is named `<run>.<step>`; its tries are Pod nodes under it.
            let full = format!("{run}.{name}");
            let node = nodes.iter().find(|n| n["name"].as_str() == Some(&full));
            let tries = nodes.iter().filter(|n| n["type"] == "Pod" && n["name"].as_str().is_some_and(|x| x == full || x.starts_with(&format!("{full}(")))).count();
            match node {
                Some(n) => StepState {
                    step: name.clone(),
                    phase: n["phase"].as_str().unwrap_or("Pending").into(),
                    message: n["message"].as_str().unwrap_or_default().into(),
                    started_ms: server::time_ms(&n["startedAt"]),
                    finished_ms: server::time_ms(&n["finishedAt"]),
                    tries,
                },
                None => StepState { step: name.clone(), phase: "Waiting".into(), message: String::new(), started_ms: None, finished_ms: None, tries: 0 },
            }
        })
        .collect();
    let params = found.data["spec"]["arguments"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (p["name"].as_str().unwrap_or_default().to_string(), p["value"].as_str().unwrap_or_default().to_string()))
        .collect();
    let version = found.metadata.resource_version.clone().unwrap_or_default();
    let notebooks = tasks
        .iter()
        .filter_map(|t| {
            let template = spec["templates"].as_array()?.iter().find(|x| x["name"] == t["template"])?;
            let path = template["metadata"]["annotations"][super::workflow::NOTEBOOK].as_str()?;
            Some((t["name"].as_str()?.to_string(), path.to_string()))
        })
        .collect();
    Ok(RunDetail { team, row: server::run_row(&found), steps, layers, edges, params, may_stop: may_stop?, may_rerun: may_rerun?, now_ms: server::now_ms(), version, notebooks })
}

/// How long the run page's question waits for a change before it is
/// answered "nothing yet" (and asked again).
pub const AWAIT_RUN_SECONDS: u64 = 20;

/// Answers when run `run` of `team` is no longer at version `seen`: with its
/// new version (empty when it is gone), or `None` after a while without a
/// change. The run page asks it in a loop and reads the run again on each
/// change, so a step's new state shows as soon as the portal's watch sees
/// it, without asking the API server every second. Asked as the person:
/// who may not see the team's runs is refused.
#[server(endpoint = "pipeline-run-await")]
pub async fn await_run(team: String, run: String, seen: String) -> Result<Option<String>, AppError> {
    let (state, who) = crate::auth::current().await?;
    if !server::may(&state, &who, &team, "workflows", "get").await? {
        return Err(AppError::Forbidden(format!("You may not see the runs of team “{team}”.")));
    }
    if !state.runs.is_ready() {
        // Until the watch has listed every run, say "look again" after a beat.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        return Ok(Some(String::new()));
    }
    Ok(state.runs.changed_since(&team, &run, &seen, std::time::Duration::from_secs(AWAIT_RUN_SECONDS)).await)
}

/// A step's log as the run page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    pub lines: Vec<String>,
    /// Read from the archive: the step's pod is gone.
    pub archived: bool,
    /// Read from the pod, and already in the archive too (it will outlive the pod).
    pub kept: bool,
    /// The step's pod is still to start or running: its log grows.
    pub live: bool,
    /// What Kubernetes said about the step's pod (scheduling, image pulls,
    /// kills), oldest first; empty once the pod is gone.
    pub events: Vec<PodEvent>,
}

/// One event of a step's pod.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PodEvent {
    pub at_ms: Option<i64>,
    pub reason: String,
    pub message: String,
    pub warning: bool,
    /// How many times it happened.
    pub count: i32,
}

/// The log of a step of a run (its newest try), read from Kubernetes as the
/// person (the last 2,000 lines) while its pod exists, from the archive once
/// it is gone (to those who may read the team's pod logs).
#[server(endpoint = "pipeline-step-log")]
pub async fn get_step_log(team: String, run: String, step: String) -> Result<StepLog, AppError> {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams, LogParams};
    const LINES: usize = 2000;
    super::model::check_name("step", &step).map_err(AppError::Invalid)?;
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?.client();
    let pods = Api::<Pod>::namespaced(client.clone(), &team);
    let selector = format!("workflows.argoproj.io/workflow={run},{}={step}", super::workflow::STEP_LABEL);
    let what = format!("the step “{step}” of run “{run}”");
    let explain = |e| crate::platform::kube::explain(e, &what);
    let list = pods.list(&ListParams::default().labels(&selector)).await.map_err(explain)?;
    if let Some(pod) = list.items.iter().max_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0)) {
        use k8s_openapi::api::core::v1::Event;
        let name = pod.metadata.name.clone().unwrap_or_default();
        let live = pod.status.as_ref().and_then(|s| s.phase.as_deref()).is_none_or(|p| matches!(p, "Pending" | "Running" | "Unknown"));
        let lp = LogParams { container: Some("main".into()), tail_lines: Some(LINES as i64), ..Default::default() };
        let events = Api::<Event>::namespaced(client.clone(), &team);
        let about = ListParams::default().fields(&format!("involvedObject.kind=Pod,involvedObject.name={name}"));
        let (text, kept, events) = futures::join!(
            pods.logs(&name, &lp),
            async {
                match state.logs.as_ref() {
                    Some(archive) => archive.has(&team, &run, &step, &name).await.unwrap_or(false),
                    None => false,
                }
            },
            events.list(&about)
        );
        // A pod that has not started has no log yet: that is not an error.
        let text = match text {
            Err(kube::Error::Api(e)) if e.code == 400 && live => String::new(),
            other => other.map_err(explain)?,
        };
        let mut events: Vec<PodEvent> = events.map_err(explain)?.items.into_iter().map(pod_event).collect();
        events.sort_by_key(|e| e.at_ms);
        return Ok(StepLog { lines: text.lines().map(String::from).collect(), archived: false, kept, live, events });
    }
    let gone = || AppError::NotFound(format!("There is no log of {what}: it has not started, or its pod is gone."));
    let Some(archive) = state.logs.as_ref() else { return Err(gone()) };
    // The run must be one the person may see, and its logs theirs to read.
    server::api(client.clone(), &team, "Workflow").get_metadata(&run).await.map_err(|e| crate::platform::kube::explain(e, &format!("run “{run}” in team “{team}”")))?;
    let ask = crate::platform::access::Ask { group: "", resource: "pods/log", verb: "get", namespace: Some(&team), name: None };
    if !state.access.may(&state.kube.for_user(&who)?, who.session_key(), ask).await? {
        return Err(AppError::Forbidden(format!("You may not read the logs of team “{team}”.")));
    }
    let text = archive.get(&team, &run, &step).await.map_err(|e| AppError::internal(format!("log archive not readable: {e}")))?;
    let text = text.ok_or_else(gone)?;
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let skip = lines.len().saturating_sub(LINES);
    Ok(StepLog { lines: lines[skip..].to_vec(), archived: true, kept: true, live: false, events: Vec::new() })
}

#[cfg(feature = "ssr")]
fn pod_event(e: k8s_openapi::api::core::v1::Event) -> PodEvent {
    let at = e.last_timestamp.map(|t| t.0).or(e.event_time.map(|t| t.0)).or(e.metadata.creation_timestamp.map(|t| t.0));
    PodEvent {
        at_ms: at.map(|t| t.as_millisecond()),
        reason: e.reason.unwrap_or_default(),
        message: e.message.unwrap_or_default(),
        warning: e.type_.as_deref() == Some("Warning"),
        count: e.count.unwrap_or(1),
    }
}

/// A conversion the editor asks for (one server function for all of them,
/// so the browser carries one client for it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Conversion {
    /// An Elyra `.pipeline` file into a pipeline.
    FromElyra(String),
    /// The pipeline as an Elyra file.
    ToElyra(Pipeline),
    /// The WorkflowTemplate the pipeline becomes in `team`, as YAML.
    ToYaml(String, Pipeline),
    /// A WorkflowTemplate in YAML back into a pipeline.
    FromYaml(String),
}

/// What a conversion gives, and what of the source could not be kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Converted {
    Pipeline(Pipeline, Vec<String>),
    Text(String, Vec<String>),
}

/// The largest file the editor reads (an Elyra file, YAML), in bytes.
pub const MAX_SOURCE_BYTES: usize = 2 * 1024 * 1024;

#[cfg(feature = "ssr")]
fn not_too_long(source: &str) -> Result<(), AppError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(AppError::Invalid(format!("The file is {} KB; the editor reads files up to {} KB.", source.len() / 1024, MAX_SOURCE_BYTES / 1024)));
    }
    Ok(())
}

/// The editor's conversions (nothing is saved): Elyra files in and out, and
/// the YAML tab. A source that cannot be read is refused, saying why.
#[server(endpoint = "pipeline-convert", input = leptos::server_fn::codec::Json)]
pub async fn convert_pipeline(conversion: Conversion) -> Result<Converted, AppError> {
    let _ = crate::auth::current().await?;
    match conversion {
        Conversion::FromElyra(source) => {
            not_too_long(&source)?;
            let done = super::elyra::import(&source).map_err(AppError::Invalid)?;
            Ok(Converted::Pipeline(done.pipeline, done.report))
        }
        Conversion::ToElyra(pipeline) => {
            let (text, report) = super::elyra::export(&pipeline);
            Ok(Converted::Text(text, report))
        }
        Conversion::ToYaml(team, pipeline) => {
            let text = serde_saphyr::to_string(&super::workflow::to_template(&pipeline, &team)).map_err(AppError::internal)?;
            Ok(Converted::Text(text, Vec::new()))
        }
        Conversion::FromYaml(text) => {
            not_too_long(&text)?;
            let value: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| AppError::Invalid(format!("The YAML cannot be read: {e}")))?;
            let pipeline = super::workflow::from_template(&value).map_err(AppError::Invalid)?;
            Ok(Converted::Pipeline(pipeline, Vec::new()))
        }
    }
}
