//! The pipelines pages: the pipelines of the person's teams, one pipeline
//! (its diagram, steps and source, and a form to run it), a team's runs a
//! page at a time, and one run (its diagram coloured by each step's state,
//! what failed and why, and each step's log). Server-rendered; running a
//! pipeline and following a run live are islands.

mod editor;
mod run;

pub use editor::NewPipelinePage;
pub use run::RunPage;

use crate::components::error_view::ErrorView;
use crate::pipelines::api::{PipelineDetail, PipelineList, RunList, RunPipeline, RunRow, get_pipeline, get_pipelines, get_runs};
use crate::pipelines::diagram::{self, Node};
use crate::pipelines::model::{Pipeline, Work};
use crate::pipelines::schedules::{Concurrency, DEFAULT_KEEP, DeleteSchedule, MAX_KEEP, PreviewSchedule, SaveSchedule, Schedule, ScheduleRow, SuspendSchedule};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn PipelinesPage() -> impl IntoView {
    view! { <Listing team=None/> }
}

#[component]
pub fn TeamPipelinesPage() -> impl IntoView {
    let team = use_params_map().read_untracked().get("team").unwrap_or_default();
    view! { <Listing team=Some(team)/> }
}

#[component]
fn Listing(team: Option<String>) -> impl IntoView {
    let data = Resource::new({
        let team = team.clone();
        move || team.clone()
    }, get_pipelines);
    let title = team.clone().map(|t| format!("Pipelines · {t}")).unwrap_or_else(|| "Pipelines".into());
    view! {
        <Title text=title.clone()/>
        <h1 class="page-title" data-testid="area-title">{title}</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading pipelines…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    Ok(list) => view! { <PipelineTable list/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PipelineTable(list: PipelineList) -> impl IntoView {
    let PipelineList { rows, teams } = list;
    let team_links = teams
        .iter()
        .map(|(t, may_write)| {
            view! {
                <li class="flex flex-wrap items-center gap-3">
                    <span class="font-medium">{t.clone()}</span>
                    <a href=format!("/pipelines/{t}/runs") data-testid="team-runs">"Runs"</a>
                    {may_write.then(|| view! { <a class="btn-quiet" href=format!("/pipelines/{t}/new") data-testid="pipeline-new">"New pipeline"</a> })}
                </li>
            }
        })
        .collect_view();
    // The shipped templates, for the teams where the person may make pipelines.
    let writable: Vec<String> = teams.iter().filter(|(_, w)| *w).map(|(t, _)| t.clone()).collect();
    let templates = (!writable.is_empty()).then(|| {
        let items = crate::pipelines::templates::TEMPLATES
            .iter()
            .map(|t| {
                let links = writable
                    .iter()
                    .map(|team| view! { <a class="btn-quiet" href=format!("/pipelines/{team}/new?template={}", t.id) data-testid="template-use">{if writable.len() > 1 { format!("Use in {team}") } else { "Use this template".to_string() }}</a> })
                    .collect_view();
                view! {
                    <li class="space-y-1" data-testid="template" data-template=t.id>
                        <p class="font-medium">{t.title}</p>
                        <p class="muted text-sm">{t.summary}</p>
                        <div class="flex flex-wrap gap-2">{links}</div>
                    </li>
                }
            })
            .collect_view();
        view! { <section class="card space-y-2"><h2 class="section-title">"Start from a template"</h2><ul class="space-y-3" data-testid="templates">{items}</ul></section> }
    });
    let empty = rows.is_empty();
    let body = rows
        .into_iter()
        .map(|r| {
            view! {
                <tr data-testid="pipeline-row" data-name=r.name.clone()>
                    <td><a class="font-medium" href=format!("/pipelines/{}/p/{}", r.team, r.name)>{r.name.clone()}</a></td>
                    <td>{r.team.clone()}</td>
                    <td>{r.steps}</td>
                    <td class="muted">{r.description.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card"><ul class="space-y-2" data-testid="pipeline-teams">{team_links}</ul></section>
        <section class="card">
            <table class="table" data-testid="pipelines">
                <thead><tr><th>"Pipeline"</th><th>"Team"</th><th>"Steps"</th><th>"Description"</th></tr></thead>
                <tbody>{body}</tbody>
            </table>
            {empty.then(|| view! { <p class="muted" data-testid="pipelines-empty">"No pipelines yet."</p> })}
        </section>
        {templates}
    }
}

#[component]
pub fn PipelinePage() -> impl IntoView {
    let (team, name) = use_params_map().with_untracked(|p| (p.get("team").unwrap_or_default(), p.get("name").unwrap_or_default()));
    let data = Resource::new(move || (team.clone(), name.clone()), |(t, n)| get_pipeline(t, n));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the pipeline…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    Ok(d) => view! { <PipelineView detail=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A pipeline's diagram (server-drawn).
pub fn pipeline_svg(p: &Pipeline) -> String {
    let edges: Vec<(String, Vec<String>)> = p.steps.iter().map(|s| (s.name.clone(), s.after.clone())).collect();
    diagram::draw(&p.layers(), &edges, |n| Node { name: n, phase: None, flagged: false }, None)
}

#[component]
fn PipelineView(detail: PipelineDetail) -> impl IntoView {
    let PipelineDetail { team, pipeline, source, may_change, may_run, runs, schedules, may_schedule } = detail;
    let name = match &pipeline {
        Ok(p) => p.name.clone(),
        Err(_) => String::new(),
    };
    let body = match pipeline {
        Err(why) => view! { <p class="notice-error" role="alert" data-testid="pipeline-unreadable">{format!("This template cannot be shown as a diagram: {why}")}</p> }.into_any(),
        Ok(p) => {
            let svg = pipeline_svg(&p);
            let params = p.params.clone();
            let steps = p
                .steps
                .iter()
                .map(|s| {
                    let (kind, what) = match &s.work {
                        Work::Command(c) => ("command", c.clone()),
                        Work::Script(src) => ("script", src.lines().next().unwrap_or_default().to_string()),
                        Work::Notebook(path) => ("notebook", path.clone()),
                    };
                    view! {
                        <tr data-testid="step-row" data-step=s.name.clone()>
                            <td class="font-medium">{s.name.clone()}</td>
                            <td>{kind}</td>
                            <td class="mono text-xs break-all">{what}</td>
                            <td class="mono text-xs">{s.image.clone()}</td>
                            <td>{if s.after.is_empty() { "—".to_string() } else { s.after.join(", ") }}</td>
                        </tr>
                    }
                })
                .collect_view();
            view! {
                {(!p.description.is_empty()).then(|| view! { <p class="muted">{p.description.clone()}</p> })}
                <section class="card overflow-x-auto" inner_html=svg></section>
                {may_run.then(|| view! { <RunForm team=team.clone() name=p.name.clone() params=params.clone()/> })}
                <Schedules team=team.clone() pipeline=p.name.clone() rows=schedules may=may_schedule params/>
                <section class="card overflow-x-auto">
                    <h2 class="section-title">"Steps"</h2>
                    <table class="table" data-testid="steps">
                        <thead><tr><th>"Step"</th><th>"Runs a"</th><th>""</th><th>"Image"</th><th>"After"</th></tr></thead>
                        <tbody>{steps}</tbody>
                    </table>
                </section>
            }
            .into_any()
        }
    };
    view! {
        <Title text=format!("Pipeline {name}")/>
        <p class="hint"><a href=format!("/pipelines/{team}")>{format!("← Pipelines of {team}")}</a></p>
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="page-title" data-testid="pipeline-title">{name.clone()}</h1>
            {(may_change && !name.is_empty()).then(|| view! {
                <a class="btn-quiet" href=format!("/pipelines/{team}/new?edit={}", url_encode(&name)) data-testid="pipeline-edit">"Edit"</a>
            })}
        </div>
        {body}
        <section class="card">
            <h2 class="section-title">"Recent runs"</h2>
            <RunTable team=team.clone() rows=runs now_ms=None/>
        </section>
        <details class="card"><summary class="section-title">"As Kubernetes keeps it (WorkflowTemplate)"</summary><pre class="mono text-xs overflow-auto" data-testid="pipeline-source">{source}</pre></details>
    }
}

/// Starts a run, with a value for each parameter (their defaults filled in).
#[island(lazy)]
fn RunForm(team: String, name: String, params: Vec<crate::pipelines::model::Param>) -> impl IntoView {
    let run = ServerAction::<RunPipeline>::new();
    let values: Vec<(String, RwSignal<String>)> = params.iter().map(|p| (p.name.clone(), RwSignal::new(p.default.clone()))).collect();
    let fields = values
        .iter()
        .map(|(k, v)| {
            let v = *v;
            view! { <label class="form-row">{k.clone()}<input class="input mono" prop:value=v on:input=move |e| v.set(event_target_value(&e)) data-testid=format!("param-{k}")/></label> }
        })
        .collect_view();
    let submit = {
        let team = team.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let params = values.iter().map(|(k, v)| (k.clone(), v.get_untracked())).collect();
            run.dispatch(RunPipeline { team: team.clone(), name: name.clone(), params });
        }
    };
    view! {
        <form class="card flex flex-wrap items-end gap-3" on:submit=submit data-testid="run-form">
            {fields}
            <button type="submit" class="btn-primary" disabled=move || run.pending().get() data-testid="run-pipeline">"Run"</button>
            {move || run.value().get().map(|r| match r {
                Ok(made) => view! { <p class="notice-ok" role="status" data-testid="run-started">"Started "<a href=format!("/pipelines/{team}/runs/{made}")>{made.clone()}</a>"."</p> }.into_any(),
                Err(e) => view! { <p class="notice-error" role="alert" data-testid="run-error">{e.to_string()}</p> }.into_any(),
            })}
        </form>
    }
}

/// A pipeline's schedules: when each fires next, what it last did, and (for
/// those who may) suspend, resume, delete, and a form for a new one whose
/// next five times show as the expression is typed.
#[island(lazy)]
fn Schedules(team: String, pipeline: String, rows: Vec<ScheduleRow>, may: bool, params: Vec<crate::pipelines::model::Param>) -> impl IntoView {
    let suspend = ServerAction::<SuspendSchedule>::new();
    let delete = ServerAction::<DeleteSchedule>::new();
    let save = ServerAction::<SaveSchedule>::new();
    let here = format!("/pipelines/{team}/p/{pipeline}");
    Effect::new({
        let here = here.clone();
        move || {
            let done = matches!(suspend.value().get(), Some(Ok(()))) || matches!(delete.value().get(), Some(Ok(()))) || matches!(save.value().get(), Some(Ok(())));
            if done {
                crate::navigation::go(&here);
            }
        }
    });
    let action_error = move || {
        let e = match (suspend.value().get(), delete.value().get()) {
            (Some(Err(e)), _) | (_, Some(Err(e))) => Some(e.to_string()),
            _ => None,
        };
        e.map(|e| view! { <p class="notice-error" role="alert" data-testid="schedule-action-error">{e}</p> })
    };
    let empty = rows.is_empty();
    let body = rows
        .into_iter()
        .map(|r| {
            let s = r.schedule;
            let next = match r.next {
                _ if s.suspended => view! { <span class="muted">"Suspended"</span> }.into_any(),
                Ok(times) => view! { <ul class="text-xs mono" data-testid="schedule-next">{times.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}</ul> }.into_any(),
                Err(why) => view! { <span class="notice-error">{why}</span> }.into_any(),
            };
            let (t1, t2, n1, n2) = (team.clone(), team.clone(), s.name.clone(), s.name.clone());
            let suspended = s.suspended;
            view! {
                <tr data-testid="schedule-row" data-schedule=s.name.clone() data-suspended=suspended.to_string()>
                    <td class="font-medium">{s.name.clone()}</td>
                    <td class="mono text-xs">{s.cron.clone()}<br/><span class="muted">{s.timezone.clone()}</span></td>
                    <td>{next}</td>
                    <td class="text-sm">{format!("If one is still running: {}.", s.concurrency.words())}</td>
                    <td class="text-sm whitespace-nowrap" data-testid="schedule-last">
                        {r.last_ms.map(crate::audit::trail::format_time).unwrap_or_else(|| "not yet".into())}
                        <br/><span class="muted">{format!("{} running · {} succeeded · {} failed", r.active, r.succeeded, r.failed)}</span>
                    </td>
                    <td class="text-sm">
                        {(!r.problem.is_empty()).then(|| view! { <p class="notice-error" data-testid="schedule-problem">{r.problem.clone()}</p> })}
                        {may.then(|| view! {
                            <div class="flex gap-2">
                                <button type="button" class="btn-quiet" data-testid="schedule-suspend" disabled=move || suspend.pending().get()
                                    on:click=move |_| { suspend.dispatch(SuspendSchedule { team: t1.clone(), name: n1.clone(), suspend: !suspended }); }>
                                    {if suspended { "Resume" } else { "Suspend" }}
                                </button>
                                <button type="button" class="btn-quiet" data-testid="schedule-delete" disabled=move || delete.pending().get()
                                    on:click=move |_| { delete.dispatch(DeleteSchedule { team: t2.clone(), name: n2.clone() }); }>"Delete"</button>
                            </div>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card space-y-3" data-testid="schedules">
            <h2 class="section-title">"Schedules"</h2>
            {if empty {
                view! { <p class="muted" data-testid="schedules-empty">"This pipeline runs only when started."</p> }.into_any()
            } else {
                view! {
                    <div class="overflow-x-auto">
                        <table class="table">
                            <thead><tr><th>"Schedule"</th><th>"When"</th><th>"Next runs"</th><th>"Overlap"</th><th>"Last started"</th><th>""</th></tr></thead>
                            <tbody>{body}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {action_error}
            {may.then(|| view! { <ScheduleForm team=team.clone() pipeline=pipeline.clone() params save/> })}
        </section>
    }
}

#[component]
fn ScheduleForm(team: String, pipeline: String, params: Vec<crate::pipelines::model::Param>, save: ServerAction<SaveSchedule>) -> impl IntoView {
    let preview = ServerAction::<PreviewSchedule>::new();
    let name = RwSignal::new(format!("{pipeline}-daily"));
    let cron = RwSignal::new("0 6 * * *".to_string());
    let zone = RwSignal::new("UTC".to_string());
    let concurrency = RwSignal::new(Concurrency::Forbid);
    let keep = RwSignal::new(DEFAULT_KEEP.to_string());
    let values: Vec<(String, RwSignal<String>)> = params.iter().map(|p| (p.name.clone(), RwSignal::new(p.default.clone()))).collect();
    let ask = move || {
        preview.dispatch(PreviewSchedule { cron: cron.get_untracked(), timezone: zone.get_untracked() });
    };
    Effect::new(move || ask());
    let fields = values
        .iter()
        .map(|(k, v)| {
            let v = *v;
            view! { <label class="form-row">{format!("Parameter {k}")}<input class="input mono" prop:value=v on:input=move |e| v.set(event_target_value(&e)) data-testid=format!("schedule-param-{k}")/></label> }
        })
        .collect_view();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(keep) = keep.get_untracked().trim().parse::<u32>() else {
            save.value().set(Some(Err(crate::error::AppError::Invalid(format!("Keep a number of runs between 1 and {MAX_KEEP}.")))));
            return;
        };
        let schedule = Schedule {
            name: name.get_untracked().trim().to_string(),
            cron: cron.get_untracked(),
            timezone: zone.get_untracked(),
            concurrency: concurrency.get_untracked(),
            suspended: false,
            keep,
            params: values.iter().map(|(k, v)| (k.clone(), v.get_untracked())).collect(),
        };
        save.dispatch(SaveSchedule { team: team.clone(), pipeline: pipeline.clone(), schedule });
    };
    let options = Concurrency::ALL
        .into_iter()
        .map(|c| view! { <option value=c.as_str() selected=c == Concurrency::Forbid>{format!("If one is still running: {}", c.words())}</option> })
        .collect_view();
    view! {
        <form class="space-y-3 border-t pt-3" on:submit=submit data-testid="schedule-form">
            <h3 class="font-medium">"New schedule"</h3>
            <div class="flex flex-wrap items-end gap-3">
                <label class="form-row">"Name"<input class="input" prop:value=name on:input=move |e| name.set(event_target_value(&e)) data-testid="schedule-name"/></label>
                <label class="form-row">"Cron expression"
                    <input class="input mono" prop:value=cron on:input=move |e| { cron.set(event_target_value(&e)); ask(); } data-testid="schedule-cron"/>
                </label>
                <label class="form-row">"Time zone"
                    <input class="input" list="time-zones" prop:value=zone on:input=move |e| { zone.set(event_target_value(&e)); ask(); } data-testid="schedule-zone"/>
                </label>
                <datalist id="time-zones">
                    {["UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney"]
                        .map(|z| view! { <option value=z/> }).collect_view()}
                </datalist>
                <label class="form-row">"Overlap"
                    <select class="input" on:change=move |e| concurrency.set(Concurrency::parse(&event_target_value(&e))) data-testid="schedule-concurrency">{options}</select>
                </label>
                <label class="form-row">"Keep finished runs"<input class="input w-24" type="number" min="1" max=MAX_KEEP.to_string() prop:value=keep on:input=move |e| keep.set(event_target_value(&e)) data-testid="schedule-keep"/></label>
                {fields}
            </div>
            <p class="hint">"Five fields (minute hour day-of-month month day-of-week), @hourly, @daily, @weekly, @monthly, or @every 30m."</p>
            <div data-testid="schedule-preview">
                {move || match preview.value().get() {
                    None => view! { <p class="muted text-sm">"…"</p> }.into_any(),
                    Some(Ok(times)) => view! {
                        <p class="text-sm">"Next runs:"</p>
                        <ul class="text-xs mono" data-testid="schedule-preview-times">{times.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}</ul>
                    }.into_any(),
                    Some(Err(e)) => view! { <p class="notice-error text-sm" role="alert" data-testid="schedule-preview-error">{e.to_string()}</p> }.into_any(),
                }}
            </div>
            <button type="submit" class="btn-primary" disabled=move || save.pending().get() data-testid="schedule-save">"Schedule"</button>
            {move || save.value().get().and_then(|r| r.err()).map(|e| view! { <p class="notice-error" role="alert" data-testid="schedule-error">{e.to_string()}</p> })}
        </form>
    }
}

/// How long something took or has been running, in words.
pub fn duration(from: Option<i64>, to: Option<i64>) -> String {
    let (Some(a), Some(b)) = (from, to) else { return String::new() };
    let s = ((b - a).max(0) / 1000) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[component]
fn RunTable(team: String, rows: Vec<RunRow>, now_ms: Option<i64>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted" data-testid="runs-empty">"No runs yet."</p> }.into_any();
    }
    let body = rows
        .into_iter()
        .map(|r| {
            let end = r.finished_ms.or(now_ms);
            view! {
                <tr data-testid="run-row" data-run=r.name.clone() data-phase=r.phase.clone()>
                    <td><a class="font-medium" href=format!("/pipelines/{team}/runs/{}", r.name)>{r.name.clone()}</a></td>
                    <td>{r.pipeline.clone()}</td>
                    <td data-testid="run-phase">{r.phase.clone()}</td>
                    <td>{r.started_by.clone()}</td>
                    <td class="whitespace-nowrap">{r.started_ms.map(crate::audit::trail::format_time).unwrap_or_default()}</td>
                    <td>{duration(r.started_ms, end)}</td>
                    <td class="text-sm">{r.message.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="overflow-x-auto">
            <table class="table" data-testid="runs">
                <thead><tr><th>"Run"</th><th>"Pipeline"</th><th>"Status"</th><th>"Started by"</th><th>"Started"</th><th>"Duration"</th><th>"Message"</th></tr></thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// What the runs page was asked for (its query string).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct RunsQuery {
    page: Option<String>,
    phase: String,
    pipeline: String,
    by: String,
    sort: String,
}

impl RunsQuery {
    /// This query's address with another page.
    fn href(&self, team: &str, page: &str) -> String {
        let mut parts = vec![format!("page={}", url_encode(page))];
        for (k, v) in [("phase", &self.phase), ("pipeline", &self.pipeline), ("by", &self.by), ("sort", &self.sort)] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", url_encode(v)));
            }
        }
        format!("/pipelines/{team}/runs?{}", parts.join("&"))
    }
}

#[component]
pub fn RunsPage() -> impl IntoView {
    let team = use_params_map().with_untracked(|p| p.get("team").unwrap_or_default());
    let query = use_query_map().with_untracked(|q| {
        let get = |k: &str| q.get(k).unwrap_or_default();
        RunsQuery { page: q.get("page").filter(|p| !p.is_empty()), phase: get("phase"), pipeline: get("pipeline"), by: get("by"), sort: get("sort") }
    });
    let data = Resource::new(move || (team.clone(), query.clone()), |(t, q)| async move {
        let some = |s: &String| (!s.is_empty()).then(|| s.clone());
        let list = get_runs(t, q.page.clone(), some(&q.phase), some(&q.pipeline), some(&q.by), some(&q.sort)).await;
        list.map(|l| (l, q))
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading runs…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    Ok((list, query)) => view! { <Runs list query/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Runs(list: RunList, query: RunsQuery) -> impl IntoView {
    let RunList { team, rows, next, now_ms, indexed } = list;
    let per = crate::pipelines::api::RUNS_PER_PAGE as usize;
    let (more, back, summary) = match &indexed {
        Some((total, page, _)) => (
            ((page + 1) * per < *total).then(|| query.href(&team, &(page + 1).to_string())),
            (*page > 0).then(|| query.href(&team, &(page - 1).to_string())),
            Some(if *total == 0 { "No runs match.".to_string() } else { format!("Runs {}–{} of {total}", page * per + 1, (page * per + rows.len()).min(*total)) }),
        ),
        None => (next.map(|n| query.href(&team, &n)), None, None),
    };
    let phases = indexed.as_ref().map(|(_, _, p)| p.clone()).unwrap_or_default();
    let phase_options = phases
        .iter()
        .map(|(p, n)| view! { <option value=p.clone() selected=query.phase == *p>{format!("{p} ({n})")}</option> })
        .collect_view();
    let sorts = [("newest", "Newest first"), ("oldest", "Oldest first"), ("longest", "Longest first"), ("name", "By name")]
        .map(|(v, label)| view! { <option value=v selected=query.sort == v>{label}</option> })
        .collect_view();
    view! {
        <Title text=format!("Runs · {team}")/>
        <p class="hint"><a href=format!("/pipelines/{team}")>{format!("← Pipelines of {team}")}</a></p>
        <h1 class="page-title" data-testid="runs-title">{format!("Runs of {team}")}</h1>
        {indexed.is_some().then(|| view! {
            <form method="get" class="card flex flex-wrap items-end gap-3" data-testid="runs-filter">
                <label class="form-row">"Status"
                    <select class="input" name="phase" data-testid="runs-phase"><option value="">"Any"</option>{phase_options}</select>
                </label>
                <label class="form-row">"Pipeline"<input class="input" name="pipeline" value=query.pipeline.clone() data-testid="runs-pipeline"/></label>
                <label class="form-row">"Started by"<input class="input" name="by" value=query.by.clone() placeholder="a person, or “schedule”" data-testid="runs-by"/></label>
                <label class="form-row">"Order"<select class="input" name="sort" data-testid="runs-sort">{sorts}</select></label>
                <button type="submit" class="btn-quiet">"Show"</button>
            </form>
        })}
        <section class="card space-y-3">
            {summary.map(|s| view! { <p class="muted text-sm" data-testid="runs-summary">{s}</p> })}
            <RunTable team=team.clone() rows now_ms=Some(now_ms)/>
            <div class="flex gap-3">
                {back.map(|h| view! { <a class="btn-quiet" href=h data-testid="runs-previous">"Previous page"</a> })}
                {more.map(|h| view! { <a class="btn-quiet" href=h data-testid="runs-next">"Next page"</a> })}
            </div>
        </section>
    }
}

pub fn url_encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
