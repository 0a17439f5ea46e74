//! `/experiments/:team/:id/runs/:run`: one run: its params, latest metrics,
//! tags, description and where it ran from, its metric charts, its artifacts
//! (folders browsed with `?dir=`, files downloaded through the portal) and
//! the models it logged, with their signature. Server-rendered; registering
//! a model is the page's one island.

use crate::components::error_view::ErrorView;
use crate::experiments::api::{DescribeRun, RegisterModel, check_description, get_run};
use crate::experiments::model::{ArtifactEntry, ChartView, LoggedModel, Preview, PreviewKind, RunDetail, check_model_name, format_metric};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn RunPage() -> impl IntoView {
    let (team, run) = use_params_map().with_untracked(|p| (p.get("team").unwrap_or_default(), p.get("run").unwrap_or_default()));
    let chart = use_query_map().with_untracked(|q| ChartView {
        by_time: q.get("x").as_deref() == Some("time"),
        from: q.get("from").and_then(|v| v.trim().parse().ok()),
        to: q.get("to").and_then(|v| v.trim().parse().ok()),
    });
    let (dir, file) = use_query_map().with_untracked(|q| (q.get("dir").unwrap_or_default(), q.get("file")));
    let data = Resource::new({
        let chart = chart.clone();
        move || (team.clone(), run.clone(), chart.clone(), dir.clone(), file.clone())
    }, |(t, r, c, d, f)| get_run(t, r, c, d, f));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the run…"</p> }>
            {move || {
                let chart = chart.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(d) => view! { <RunView detail=d chart/> }.into_any(),
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn RunView(detail: RunDetail, chart: ChartView) -> impl IntoView {
    let RunDetail { team, experiment, run, description, charts, dir, artifacts, models, registered, may_register, may_describe, preview } = detail;
    let here = format!("/experiments/{team}/{}/runs/{}", experiment.id, run.id);
    let title = if run.name.is_empty() { run.id.clone() } else { run.name.clone() };
    let pairs = |items: Vec<(String, String)>, testid: &'static str, empty: &'static str| {
        if items.is_empty() {
            return view! { <p class="muted">{empty}</p> }.into_any();
        }
        view! {
            <table class="table" data-testid=testid><tbody>
                {items.into_iter().map(|(k, v)| view! { <tr><th scope="row" class="font-medium">{k}</th><td class="mono">{v}</td></tr> }).collect_view()}
            </tbody></table>
        }
        .into_any()
    };
    let metrics = run.metrics.iter().map(|(k, v)| (k.clone(), format_metric(*v))).collect();
    view! {
        <Title text=title.clone()/>
        <p class="hint"><a href=format!("/experiments/{team}/{}", experiment.id)>{format!("← {}", experiment.name)}</a></p>
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="page-title" data-testid="run-title">{title}</h1>
            <span class="badge" data-testid="run-status">{run.status.clone()}</span>
        </div>
        <section class="card">
            <dl class="grid grid-cols-[10rem_1fr] gap-y-1 text-sm">
                <dt class="muted">"Run id"</dt><dd class="mono">{run.id.clone()}</dd>
                <dt class="muted">"User"</dt><dd>{run.user.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt class="muted">"Started"</dt><dd>{run.start_ms.map(crate::audit::trail::format_time).unwrap_or_default()}</dd>
                <dt class="muted">"Source"</dt><dd class="mono" data-testid="run-source">{run.source.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt class="muted">"Notebook"</dt>
                <dd data-testid="run-notebook">
                    {match run.notebook.clone() {
                        Some(nb) => view! { <a href=format!("/notebooks/{team}/{nb}")>{nb.clone()}</a> }.into_any(),
                        None => "—".into_any(),
                    }}
                </dd>
                <dt class="muted">"Pipeline run"</dt>
                <dd data-testid="run-pipeline-run">
                    {match run.pipeline_run.clone() {
                        Some(p) => view! { <a href=format!("/pipelines/{team}/runs/{p}")>{p.clone()}</a> }.into_any(),
                        None => "—".into_any(),
                    }}
                </dd>
                <dt class="muted">"Git commit"</dt><dd class="mono">{run.commit.clone().unwrap_or_else(|| "—".into())}</dd>
            </dl>
            {if may_describe {
                view! { <DescriptionForm team=team.clone() run=run.id.clone() text=description.unwrap_or_default()/> }.into_any()
            } else {
                description.map(|d| view! { <p class="mt-3 whitespace-pre-wrap" data-testid="run-description">{d}</p> }).into_any()
            }}
        </section>
        <div class="grid gap-4 md:grid-cols-2">
            <section class="card"><h2 class="section-title">"Metrics (latest)"</h2>{pairs(metrics, "run-metrics", "No metrics logged.")}</section>
            <section class="card"><h2 class="section-title">"Parameters"</h2>{pairs(run.params.clone(), "run-params", "No parameters logged.")}</section>
        </div>
        <section class="card space-y-3" data-testid="run-charts">
            <h2 class="section-title">"Metric history"</h2>
            <form method="get" class="flex flex-wrap items-end gap-3" data-testid="chart-view">
                <label class="form-row">"X axis"
                    <select class="select input" name="x" data-testid="chart-x">
                        <option value="step" selected=!chart.by_time>"Step"</option>
                        <option value="time" selected=chart.by_time>"Time"</option>
                    </select>
                </label>
                <label class="form-row">"From step"<input class="input w-28" name="from" inputmode="numeric" value=chart.from.map(|v| v.to_string()) data-testid="chart-from"/></label>
                <label class="form-row">"To step"<input class="input w-28" name="to" inputmode="numeric" value=chart.to.map(|v| v.to_string()) data-testid="chart-to"/></label>
                <button type="submit" class="btn-quiet" data-testid="chart-apply">"Show"</button>
            </form>
            {if charts.is_empty() {
                view! { <p class="muted">"No metrics logged."</p> }.into_any()
            } else {
                view! { <div class="grid gap-4 lg:grid-cols-2">{charts.into_iter().map(|svg| view! { <super::hover::ChartHover><figure class="chart-box" inner_html=svg></figure></super::hover::ChartHover> }).collect_view()}</div> }.into_any()
            }}
        </section>
        <section class="card"><h2 class="section-title">"Tags"</h2>{pairs(run.tags.clone(), "run-tags", "No tags.")}</section>
        <Models models registered team=team.clone() run=run.id.clone() may_register/>
        <Artifacts entries=artifacts dir here=here.clone()/>
        {preview.map(|p| view! { <ArtifactPreview preview=p here/> })}
    }
}

#[component]
fn Models(models: Vec<LoggedModel>, registered: Vec<(String, String)>, team: String, run: String, may_register: bool) -> impl IntoView {
    let registered = (!registered.is_empty()).then(|| {
        let links = registered
            .into_iter()
            .map(|(model, version)| {
                view! {
                    <li><a href=format!("/models/{team}/{model}#v{version}") data-testid="registered-version">{format!("{model} v{version}")}</a></li>
                }
            })
            .collect_view();
        view! { <div class="text-sm"><p class="muted">"Registered as"</p><ul class="flex flex-wrap gap-x-4">{links}</ul></div> }
    });
    let body = if models.is_empty() {
        view! { <p class="muted">"This run logged no model."</p> }.into_any()
    } else {
        models
            .into_iter()
            .map(|m| {
                let register = (may_register && m.ready)
                    .then(|| view! { <RegisterForm team=team.clone() run=run.clone() model=m.id.clone() suggested=m.name.clone()/> });
                view! {
                    <div class="space-y-2 border-t pt-3 first:border-t-0 first:pt-0" data-testid="logged-model" data-model=m.id.clone()>
                        <p><span class="font-medium">{m.name.clone()}</span>" "<span class="mono text-xs muted">{m.id.clone()}</span></p>
                        <p class="text-sm">"Flavors: "{if m.flavors.is_empty() { "—".to_string() } else { m.flavors.join(", ") }}</p>
                        <dl class="grid grid-cols-[6rem_1fr] gap-y-1 text-sm" data-testid="model-signature">
                            <dt class="muted">"Inputs"</dt><dd class="mono text-xs break-all">{m.inputs.clone().unwrap_or_else(|| "no signature".into())}</dd>
                            <dt class="muted">"Outputs"</dt><dd class="mono text-xs break-all">{m.outputs.clone().unwrap_or_else(|| "no signature".into())}</dd>
                        </dl>
                        {register}
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    view! { <section class="card space-y-3" data-testid="run-models"><h2 class="section-title">"Models"</h2>{registered}{body}</section> }
}

/// The run's description, edited in place by those who may change the run.
#[island(lazy)]
fn DescriptionForm(team: String, run: String, text: String) -> impl IntoView {
    let save = ServerAction::<DescribeRun>::new();
    let shown = RwSignal::new(text);
    let draft = RwSignal::new(String::new());
    let editing = RwSignal::new(false);
    let problem = move || check_description(&draft.get()).err();
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            shown.set(draft.get_untracked().trim().to_string());
            editing.set(false);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem().is_none() {
            save.dispatch(DescribeRun { team: team.clone(), run: run.clone(), text: draft.get_untracked() });
        }
    };
    view! {
        <div class="mt-3 space-y-2">
            <Show when=move || !editing.get() fallback=move || view! {
                <form class="space-y-2" on:submit=submit.clone() data-testid="description-form">
                    <label class="form-row">"Description"
                        <textarea class="input min-h-24" prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev)) data-testid="description-text"></textarea>
                    </label>
                    {move || problem().map(|p| view! { <p class="text-sm text-rose-700 dark:text-rose-300" role="alert">{p}</p> })}
                    <div class="flex gap-2">
                        <button type="submit" class="btn-primary" disabled=move || save.pending().get() || problem().is_some() data-testid="description-save">"Save"</button>
                        <button type="button" class="btn-quiet" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </div>
                </form>
            }>
                <div class="flex items-start gap-3">
                    <p class="whitespace-pre-wrap grow" data-testid="run-description">
                        {move || { let t = shown.get(); if t.is_empty() { "No description.".to_string() } else { t } }}
                    </p>
                    <button type="button" class="btn-quiet" on:click=move |_| { draft.set(shown.get_untracked()); editing.set(true); } data-testid="description-edit">"Edit description"</button>
                </div>
            </Show>
            {move || match save.value().get() {
                Some(Err(e)) => Some(view! { <p class="notice-error" role="alert" data-testid="description-error">{e.to_string()}</p> }),
                _ => None,
            }}
        </div>
    }
}

/// Registers a logged model under a name of the team's model registry.
#[island(lazy)]
fn RegisterForm(team: String, run: String, model: String, suggested: String) -> impl IntoView {
    let register = ServerAction::<RegisterModel>::new();
    let name = RwSignal::new(suggested);
    let team_shown = team.clone();
    let problem = move || check_model_name(name.get().trim()).err();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem().is_none() {
            register.dispatch(RegisterModel { team: team.clone(), run: run.clone(), model: model.clone(), name: name.get() });
        }
    };
    view! {
        <form class="flex flex-wrap items-end gap-2" on:submit=submit data-testid="register-form">
            <label class="form-row">"Register as"
                <input class="input" name="name" prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) data-testid="register-name"/>
            </label>
            <button type="submit" class="btn" disabled=move || register.pending().get() data-testid="register-model">"Register model"</button>
        </form>
        {move || problem().map(|p| view! { <p class="text-sm text-rose-700 dark:text-rose-300" role="alert">{p}</p> })}
        {move || register.value().get().map(|r| match r {
            Ok(version) => {
                let model = name.get_untracked().trim().to_string();
                view! {
                    <p class="notice-ok" role="status" data-testid="registered">
                        {format!("Registered as version {version} of “{model}”. ")}
                        <a href=format!("/models/{}/{model}", team_shown) data-testid="registered-link">"Open the model"</a>
                    </p>
                }.into_any()
            }
            Err(e) => view! { <p class="notice-error" role="alert" data-testid="register-error">{e.to_string()}</p> }.into_any(),
        })}
    }
}

#[component]
fn Artifacts(entries: Vec<ArtifactEntry>, dir: String, here: String) -> impl IntoView {
    let up = (!dir.is_empty()).then(|| {
        let parent = dir.rsplit_once('/').map(|(p, _)| p.to_string()).unwrap_or_default();
        let href = if parent.is_empty() { here.clone() } else { format!("{here}?dir={}", urlencoding(&parent)) };
        view! { <p><a href=href data-testid="artifacts-up">"↑ Up"</a></p> }
    });
    let rows = entries
        .into_iter()
        .map(|e| {
            let link = if e.is_dir {
                view! { <a href=format!("{here}?dir={}", urlencoding(&e.path)) data-testid="artifact-dir">{format!("{}/", e.name())}</a> }.into_any()
            } else {
                let dir = e.path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
                view! {
                    <a href=format!("{here}?dir={}&file={}", urlencoding(&dir), urlencoding(&e.path)) data-testid="artifact-file">{e.name().to_string()}</a>
                    " "
                    <a class="text-xs" href=format!("{here}/artifact?path={}", urlencoding(&e.path)) download data-testid="artifact-download">"download"</a>
                }
                .into_any()
            };
            let size = e.size.map(size_label).unwrap_or_default();
            view! { <tr><td>{link}</td><td class="mono text-xs">{size}</td></tr> }
        })
        .collect_view();
    view! {
        <section class="card space-y-2" data-testid="run-artifacts">
            <h2 class="section-title">{if dir.is_empty() { "Artifacts".to_string() } else { format!("Artifacts · {dir}") }}</h2>
            {up}
            <table class="table"><tbody>{rows}</tbody></table>
        </section>
    }
}

#[component]
fn ArtifactPreview(preview: Preview, here: String) -> impl IntoView {
    let download = format!("{here}/artifact?path={}", urlencoding(&preview.path));
    let body = match preview.kind {
        PreviewKind::Text { text, cut } => view! {
            <pre class="mono text-xs overflow-auto max-h-[32rem] whitespace-pre-wrap" data-testid="artifact-text">{text}</pre>
            {cut.then(|| view! { <p class="muted text-sm">"Only the first 64 KB are shown; download the file for the rest."</p> })}
        }
        .into_any(),
        PreviewKind::Table { rows, cut } => {
            let mut rows = rows.into_iter();
            let head = rows.next().unwrap_or_default();
            view! {
                <div class="overflow-auto max-h-[32rem]">
                    <table class="table text-xs" data-testid="artifact-table">
                        <thead><tr>{head.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr></thead>
                        <tbody>{rows.map(|r| view! { <tr>{r.into_iter().map(|c| view! { <td class="mono">{c}</td> }).collect_view()}</tr> }).collect_view()}</tbody>
                    </table>
                </div>
                {cut.then(|| view! { <p class="muted text-sm">"Only the first rows and columns are shown; download the file for the rest."</p> })}
            }
            .into_any()
        }
        PreviewKind::Image => view! { <img class="max-w-full" src=format!("{download}&inline=true") alt=preview.path.clone() data-testid="artifact-image"/> }.into_any(),
        PreviewKind::Other => view! { <p class="muted">"This kind of file is not shown here."</p> }.into_any(),
    };
    view! {
        <section class="card space-y-2" data-testid="artifact-preview">
            <h2 class="section-title">{preview.path.clone()}</h2>
            <p><a href=download download>"Download"</a></p>
            {body}
        </section>
    }
}

/// A file size in the unit people read best.
fn size_label(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} KB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.1} GB", bytes as f64 / 1e9),
    }
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'~') { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
