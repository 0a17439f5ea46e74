//! `/experiments/:team/:id/runs/:run`: one run: its params, latest metrics,
//! tags, description and where it ran from. Server-rendered.

use crate::components::error_view::ErrorView;
use crate::experiments::api::get_run;
use crate::experiments::model::{ChartView, RunDetail, format_metric};
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
    let data = Resource::new({
        let chart = chart.clone();
        move || (team.clone(), run.clone(), chart.clone())
    }, |(t, r, c)| get_run(t, r, c));
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
    let RunDetail { team, experiment, run, description, charts } = detail;
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
                <dt class="muted">"Git commit"</dt><dd class="mono">{run.commit.clone().unwrap_or_else(|| "—".into())}</dd>
            </dl>
            {description.map(|d| view! { <p class="mt-3" data-testid="run-description">{d}</p> })}
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
                view! { <div class="grid gap-4 lg:grid-cols-2">{charts.into_iter().map(|svg| view! { <figure class="chart-box" inner_html=svg></figure> }).collect_view()}</div> }.into_any()
            }}
        </section>
        <section class="card"><h2 class="section-title">"Tags"</h2>{pairs(run.tags.clone(), "run-tags", "No tags.")}</section>
    }
}
