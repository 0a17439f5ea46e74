//! `/experiments/:team/:id/compare?run=…`: 2 to 100 runs side by side:
//! params with differing values marked, latest metrics with the best value
//! marked, every metric's history overlaid, and a param against a metric.
//! Server-rendered: the charts are SVG, readable before and without WASM.

use crate::components::error_view::ErrorView;
use crate::experiments::api::compare_runs;
use crate::experiments::model::{Comparison, format_metric, lower_is_better};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn ComparePage() -> impl IntoView {
    let (team, id) = use_params_map().with_untracked(|p| (p.get("team").unwrap_or_default(), p.get("id").unwrap_or_default()));
    let (runs, x, y) = use_query_map().with_untracked(|q| (q.get_all("run").unwrap_or_default(), q.get("x"), q.get("y")));
    let data = Resource::new({
        let team = team.clone();
        move || (team.clone(), id.clone(), runs.clone(), x.clone(), y.clone())
    }, |(t, i, r, x, y)| compare_runs(t, i, r, x, y));
    view! {
        <Title text="Compare runs"/>
        <Suspense fallback=|| view! { <p class="muted">"Comparing…"</p> }>
            {move || {
                let team = team.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(c) => view! { <CompareView team c/> }.into_any(),
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn CompareView(team: String, c: Comparison) -> impl IntoView {
    let Comparison { experiment, runs, charts, scatter, scatter_x, scatter_y } = c;
    let names: Vec<String> = runs.iter().map(|r| if r.name.is_empty() { r.id.clone() } else { r.name.clone() }).collect();
    let base = format!("/experiments/{team}/{}", experiment.id);
    let head = names.iter().zip(&runs).map(|(n, r)| view! { <th><a href=format!("{base}/runs/{}", r.id)>{n.clone()}</a></th> }).collect_view();
    let mut params: Vec<String> = runs.iter().flat_map(|r| r.params.iter().map(|(k, _)| k.clone())).collect();
    params.sort();
    params.dedup();
    let mut metrics: Vec<String> = runs.iter().flat_map(|r| r.metrics.iter().map(|(k, _)| k.clone())).collect();
    metrics.sort();
    metrics.dedup();
    let param_rows = params
        .iter()
        .map(|k| {
            let values: Vec<Option<&str>> = runs.iter().map(|r| r.param(k)).collect();
            let differs = values.windows(2).any(|w| w[0] != w[1]);
            view! {
                <tr class:differs=differs data-testid="param-row" data-param=k.clone() data-differs=differs.to_string()>
                    <th scope="row" class="font-medium">{k.clone()}</th>
                    {values.into_iter().map(|v| view! { <td class="mono">{v.unwrap_or("—").to_string()}</td> }).collect_view()}
                </tr>
            }
        })
        .collect_view();
    let metric_rows = metrics
        .iter()
        .map(|k| {
            let values: Vec<Option<f64>> = runs.iter().map(|r| r.metric(k)).collect();
            let lower = lower_is_better(k);
            let best = values.iter().flatten().copied().fold(None, |b: Option<f64>, v| match b {
                None => Some(v),
                Some(b) => Some(if (lower && v < b) || (!lower && v > b) { v } else { b }),
            });
            view! {
                <tr data-testid="metric-row" data-metric=k.clone()>
                    <th scope="row" class="font-medium">{k.clone()}<span class="hint ml-1">{if lower { "(lower is better)" } else { "(higher is better)" }}</span></th>
                    {values.into_iter().map(|v| {
                        let is_best = v.is_some() && v == best;
                        view! { <td class="mono" class:best=is_best data-best=is_best.to_string()>{v.map(format_metric).unwrap_or_else(|| "—".into())}{is_best.then_some(" ★")}</td> }
                    }).collect_view()}
                </tr>
            }
        })
        .collect_view();
    let picks = runs.iter().map(|r| view! { <input type="hidden" name="run" value=r.id.clone()/> }).collect_view();
    let x_choices = params.iter().map(|p| { let on = scatter_x.as_deref() == Some(p.as_str()); view! { <option value=p.clone() selected=on>{p.clone()}</option> } }).collect_view();
    let y_choices = metrics.iter().map(|m| { let on = scatter_y.as_deref() == Some(m.as_str()); view! { <option value=m.clone() selected=on>{m.clone()}</option> } }).collect_view();
    view! {
        <p class="hint"><a href=base.clone()>{format!("← {}", experiment.name)}</a></p>
        <h1 class="page-title" data-testid="compare-title">{format!("{} runs compared", runs.len())}</h1>
        <section class="card overflow-x-auto">
            <h2 class="section-title">"Parameters"<span class="hint ml-2">"rows whose values differ are marked"</span></h2>
            <table class="table compare" data-testid="compare-params"><thead><tr><th></th>{head.clone()}</tr></thead><tbody>{param_rows}</tbody></table>
        </section>
        <section class="card overflow-x-auto">
            <h2 class="section-title">"Metrics (latest)"<span class="hint ml-2">"★ the best of each"</span></h2>
            <table class="table compare" data-testid="compare-metrics"><thead><tr><th></th>{head}</tr></thead><tbody>{metric_rows}</tbody></table>
        </section>
        <section class="card space-y-3">
            <h2 class="section-title">"A parameter against a metric"</h2>
            <form method="get" class="flex flex-wrap items-end gap-3" data-testid="scatter-form">
                {picks}
                <label class="form-row">"Parameter"<select class="select input" name="x">{x_choices}</select></label>
                <label class="form-row">"Metric"<select class="select input" name="y">{y_choices}</select></label>
                <button type="submit" class="btn-quiet">"Show"</button>
            </form>
            {match scatter {
                Some(svg) => view! { <super::hover::ChartHover><figure class="chart-box" inner_html=svg></figure></super::hover::ChartHover> }.into_any(),
                None => view! { <p class="muted">"These runs have no numeric parameter and metric to plot."</p> }.into_any(),
            }}
        </section>
        <section class="card space-y-3" data-testid="compare-charts">
            <h2 class="section-title">"Metric history"</h2>
            <div class="grid gap-4 lg:grid-cols-2">{charts.into_iter().map(|svg| view! { <super::hover::ChartHover><figure class="chart-box" inner_html=svg></figure></super::hover::ChartHover> }).collect_view()}</div>
        </section>
    }
}
