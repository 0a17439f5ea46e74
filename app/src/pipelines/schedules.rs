//! Schedules: a pipeline run on a cron schedule is Argo's `CronWorkflow`,
//! whose `workflowSpec` refers to the pipeline's `WorkflowTemplate`; Argo's
//! controller starts the runs. The portal checks the expression and time
//! zone before saving (and shows the next five times), writes the object as
//! the person after a server-side dry-run, and audits every change.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What happens when a run is due while the last one still goes (Argo's
/// `concurrencyPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Concurrency {
    #[default]
    Allow,
    Forbid,
    Replace,
}

impl Concurrency {
    pub const ALL: [Concurrency; 3] = [Concurrency::Allow, Concurrency::Forbid, Concurrency::Replace];

    pub fn as_str(self) -> &'static str {
        match self {
            Concurrency::Allow => "Allow",
            Concurrency::Forbid => "Forbid",
            Concurrency::Replace => "Replace",
        }
    }

    pub fn parse(s: &str) -> Concurrency {
        Concurrency::ALL.into_iter().find(|c| c.as_str() == s).unwrap_or_default()
    }

    pub fn words(self) -> &'static str {
        match self {
            Concurrency::Allow => "start it anyway",
            Concurrency::Forbid => "skip it",
            Concurrency::Replace => "stop the running one and start it",
        }
    }
}

/// Runs kept of each outcome unless said otherwise (Argo's own defaults,
/// 3 and 1, would delete most of a schedule's history).
pub const DEFAULT_KEEP: u32 = 20;
pub const MAX_KEEP: u32 = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub concurrency: Concurrency,
    pub suspended: bool,
    /// Finished runs kept, of each outcome (older ones are deleted by Argo).
    pub keep: u32,
    pub params: Vec<(String, String)>,
}

/// A schedule as the pipeline page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRow {
    pub schedule: Schedule,
    /// When it fires next (in its time zone), or why it cannot.
    pub next: Result<Vec<String>, String>,
    pub last_ms: Option<i64>,
    pub active: usize,
    pub succeeded: i64,
    pub failed: i64,
    /// What Argo's controller reported wrong with it, if anything.
    pub problem: String,
    pub created_by: String,
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::pipelines::api::server::{api, time_ms};
    use crate::pipelines::cron;
    use kube::api::{DynamicObject, ListParams};

    pub fn now() -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    pub fn row(o: &DynamicObject) -> ScheduleRow {
        let spec = &o.data["spec"];
        let status = &o.data["status"];
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let cron_text = spec["schedules"][0].as_str().or(spec["schedule"].as_str()).unwrap_or_default().to_string();
        let timezone = spec["timezone"].as_str().filter(|z| !z.is_empty()).unwrap_or("UTC").to_string();
        let schedule = Schedule {
            name: o.metadata.name.clone().unwrap_or_default(),
            cron: cron_text,
            timezone,
            concurrency: Concurrency::parse(spec["concurrencyPolicy"].as_str().unwrap_or_default()),
            suspended: spec["suspend"].as_bool().unwrap_or(false),
            keep: spec["successfulJobsHistoryLimit"].as_u64().map(|k| k as u32).unwrap_or(3),
            params: spec["workflowSpec"]["arguments"]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (text(&p["name"]), text(&p["value"])))
                .collect(),
        };
        let problem = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["status"] == "True" && c["type"].as_str().is_some_and(|t| t.ends_with("Error")))
            .filter_map(|c| c["message"].as_str())
            .collect::<Vec<_>>()
            .join(" ");
        ScheduleRow {
            next: cron::preview(&schedule.cron, &schedule.timezone, now(), 5),
            schedule,
            last_ms: time_ms(&status["lastScheduledTime"]),
            active: status["active"].as_array().map(Vec::len).unwrap_or(0),
            succeeded: status["succeeded"].as_i64().unwrap_or(0),
            failed: status["failed"].as_i64().unwrap_or(0),
            problem,
            created_by: o.metadata.annotations.as_ref().and_then(|a| a.get("atrium.io/created-by").cloned()).unwrap_or_default(),
        }
    }

    /// The schedules that run `pipeline` (made here or elsewhere).
    pub async fn list(client: kube::Client, team: &str, pipeline: &str) -> Result<Vec<ScheduleRow>, AppError> {
        let list = api(client, team, "CronWorkflow")
            .list(&ListParams::default())
            .await
            .map_err(|e| crate::platform::kube::explain(e, &format!("the schedules of team “{team}”")))?;
        let mut rows: Vec<ScheduleRow> = list
            .items
            .iter()
            .filter(|o| o.data["spec"]["workflowSpec"]["workflowTemplateRef"]["name"].as_str() == Some(pipeline))
            .map(row)
            .collect();
        rows.sort_by(|a, b| a.schedule.name.cmp(&b.schedule.name));
        Ok(rows)
    }

    /// Everything wrong with `s` that can be told before asking Kubernetes.
    pub fn check(s: &Schedule, declared: &[String]) -> Result<(), AppError> {
        crate::pipelines::model::check_name("schedule", &s.name).map_err(AppError::Invalid)?;
        cron::preview(&s.cron, &s.timezone, now(), 1).map_err(AppError::Invalid)?;
        if !(1..=MAX_KEEP).contains(&s.keep) {
            return Err(AppError::Invalid(format!("Keep between 1 and {MAX_KEEP} finished runs.")));
        }
        if let Some((unknown, _)) = s.params.iter().find(|(k, _)| !declared.contains(k)) {
            return Err(AppError::Invalid(format!("The pipeline has no parameter “{unknown}”.")));
        }
        Ok(())
    }
}

/// The next five times a schedule fires, or what is wrong with it (the form
/// asks as the person types).
#[server(endpoint = "pipeline-schedule-preview")]
pub async fn preview_schedule(cron: String, timezone: String) -> Result<Vec<String>, AppError> {
    let _ = crate::auth::current().await?;
    crate::pipelines::cron::preview(&cron, &timezone, server::now(), 5).map_err(AppError::Invalid)
}

/// Makes a schedule for pipeline `pipeline` of `team`: checked, dry-run by
/// Kubernetes, then created as the person; audited.
#[server(endpoint = "pipeline-schedule-save", input = leptos::server_fn::codec::Json)]
pub async fn save_schedule(team: String, pipeline: String, schedule: Schedule) -> Result<(), AppError> {
    use kube::api::DynamicObject;
    let me = crate::audit::server::Actor::current().await?;
    let client = me.state.kube.for_user(&me.who)?.client();
    let what = format!("pipeline “{pipeline}” in team “{team}”");
    let template = crate::pipelines::api::server::api(client.clone(), &team, "WorkflowTemplate")
        .get(&pipeline)
        .await
        .map_err(|e| crate::platform::kube::explain(e, &what))?;
    server::check(&schedule, &crate::pipelines::api::server::declared_params(&template))?;
    let object = super::workflow::schedule_of(&schedule, &pipeline, &team, me.username());
    let object = crate::pipelines::api::server::tracked(&me.state, &client, &team, object).await;
    let obj: DynamicObject = serde_json::from_value(object).map_err(AppError::internal)?;
    let api = crate::pipelines::api::server::api(client, &team, "CronWorkflow");
    let work = async {
        crate::pipelines::api::server::create_checked(&api, &obj, &format!("schedule “{}”", schedule.name)).await.map(drop)
    };
    let object = format!("schedule {} of pipeline {pipeline}: {} ({})", schedule.name, schedule.cron.trim(), schedule.timezone.trim());
    me.audited(Some(&team), "schedule.create", &object, work).await
}

/// Suspends a schedule (no runs start until it is resumed) or resumes it.
#[server(endpoint = "pipeline-schedule-suspend")]
pub async fn suspend_schedule(team: String, name: String, suspend: bool) -> Result<(), AppError> {
    use kube::api::{Patch, PatchParams};
    let me = crate::audit::server::Actor::current().await?;
    let client = me.state.kube.for_user(&me.who)?.client();
    let api = crate::pipelines::api::server::api(client, &team, "CronWorkflow");
    let work = async {
        let patch = Patch::Merge(serde_json::json!({ "spec": { "suspend": suspend } }));
        api.patch(&name, &PatchParams::default(), &patch).await.map(drop).map_err(|e| crate::platform::kube::explain(e, &format!("schedule “{name}”")))
    };
    let action = if suspend { "schedule.suspend" } else { "schedule.resume" };
    me.audited(Some(&team), action, &format!("schedule {name}"), work).await
}

/// Deletes a schedule. The runs it started stay: Argo makes the schedule
/// their owner, so the schedule is first suspended and its runs freed from
/// it, then deleted with orphaning (no run can start in between, and none is
/// collected with it even if the garbage collector has not seen it yet).
#[server(endpoint = "pipeline-schedule-delete")]
pub async fn delete_schedule(team: String, name: String) -> Result<(), AppError> {
    use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
    let me = crate::audit::server::Actor::current().await?;
    let client = me.state.kube.for_user(&me.who)?.client();
    let schedules = crate::pipelines::api::server::api(client.clone(), &team, "CronWorkflow");
    let runs = crate::pipelines::api::server::api(client, &team, "Workflow");
    let what = format!("schedule “{name}”");
    let explain = |e| crate::platform::kube::explain(e, &what);
    let work = async {
        let found = schedules.get(&name).await.map_err(explain)?;
        let uid = found.metadata.uid.clone().unwrap_or_default();
        schedules.patch(&name, &PatchParams::default(), &Patch::Merge(serde_json::json!({ "spec": { "suspend": true } }))).await.map_err(explain)?;
        let started = runs.list(&ListParams::default().labels(&format!("workflows.argoproj.io/cron-workflow={name}"))).await.map_err(explain)?;
        for run in started.items {
            let owners = run.metadata.owner_references.clone().unwrap_or_default();
            if owners.iter().any(|o| o.uid == uid) {
                let rest: Vec<_> = owners.into_iter().filter(|o| o.uid != uid).collect();
                let patch = Patch::Merge(serde_json::json!({ "metadata": { "ownerReferences": rest } }));
                runs.patch(&run.metadata.name.clone().unwrap_or_default(), &PatchParams::default(), &patch).await.map_err(explain)?;
            }
        }
        schedules.delete(&name, &DeleteParams::orphan()).await.map(drop).map_err(explain)
    };
    me.audited(Some(&team), "schedule.delete", &format!("schedule {name}"), work).await
}
