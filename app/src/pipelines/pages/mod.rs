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
    let PipelineDetail { team, pipeline, source, may_change, may_run, runs } = detail;
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
                {may_run.then(|| view! { <RunForm team=team.clone() name=p.name.clone() params/> })}
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

#[component]
pub fn RunsPage() -> impl IntoView {
    let team = use_params_map().with_untracked(|p| p.get("team").unwrap_or_default());
    let page = use_query_map().with_untracked(|q| q.get("page").filter(|p| !p.is_empty()));
    let data = Resource::new(move || (team.clone(), page.clone()), |(t, p)| get_runs(t, p));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading runs…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    Ok(list) => view! { <Runs list/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Runs(list: RunList) -> impl IntoView {
    let RunList { team, rows, next, now_ms } = list;
    let more = next.map(|n| format!("/pipelines/{team}/runs?page={}", url_encode(&n)));
    view! {
        <Title text=format!("Runs · {team}")/>
        <p class="hint"><a href=format!("/pipelines/{team}")>{format!("← Pipelines of {team}")}</a></p>
        <h1 class="page-title" data-testid="runs-title">{format!("Runs of {team}")}</h1>
        <section class="card space-y-3">
            <RunTable team=team.clone() rows now_ms=Some(now_ms)/>
            {more.map(|h| view! { <a class="btn-quiet" href=h data-testid="runs-next">"Next page"</a> })}
        </section>
    }
}

pub fn url_encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
