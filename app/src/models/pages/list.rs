//! `/models` and `/models/:team`: the registered models of the person's
//! teams, each with its newest version, its aliases and where it is served.
//! Rendered on the server only (no island): searching is a plain GET form.

use crate::components::error_view::ErrorView;
use crate::models::api::get_models;
use crate::models::model::{ModelList, ModelRow};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn ModelsPage() -> impl IntoView {
    view! { <Listing team=None/> }
}

#[component]
pub fn TeamModelsPage() -> impl IntoView {
    let team = use_params_map().read_untracked().get("team").unwrap_or_default();
    view! { <Listing team=Some(team)/> }
}

#[component]
fn Listing(team: Option<String>) -> impl IntoView {
    let query = use_query_map().read_untracked().get("q").unwrap_or_default();
    let data = Resource::new(
        {
            let team = team.clone();
            move || team.clone()
        },
        get_models,
    );
    let title = team.clone().map(|t| format!("Models · {t}")).unwrap_or_else(|| "Models".into());
    view! {
        <Title text=title.clone()/>
        <h1 class="page-title" data-testid="area-title">{title}</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading models…"</p> }>
            {move || {
                let (team, query) = (team.clone(), query.clone());
                Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                        Ok(list) => view! { <ModelsTable list many_teams=team.is_none() query/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn ModelsTable(list: ModelList, many_teams: bool, query: String) -> impl IntoView {
    let q = query.trim().to_lowercase();
    let total = list.rows.len();
    let rows: Vec<ModelRow> = list.rows.into_iter().filter(|r| q.is_empty() || r.name.to_lowercase().contains(&q)).collect();
    let shown = rows.len();
    let unavailable = (!list.unavailable.is_empty()).then(|| {
        view! {
            <p class="notice-error" role="alert" data-testid="models-unavailable">
                {format!("The model registry did not answer for {}; their models are missing below.", list.unavailable.join(", "))}
            </p>
        }
    });
    let empty = (total == 0).then(|| {
        view! {
            <p class="muted" data-testid="models-empty">
                "No registered models yet. Register one from the page of the run that logged it (Experiments), or with MLflow's client from a notebook."
            </p>
        }
    });
    view! {
        {unavailable}
        <section class="card space-y-3">
            <form class="flex flex-wrap items-end gap-3" method="get">
                <label class="form-row">"Search"
                    <input class="input" type="search" name="q" value=query.clone() placeholder="model name" data-testid="models-search"/>
                </label>
                <button type="submit" class="btn">"Search"</button>
                <p class="hint ml-auto" data-testid="models-count">
                    {if shown == total { format!("{total} models") } else { format!("{shown} of {total} models") }}
                </p>
            </form>
            <div class="overflow-x-auto">
                <table class="table" data-testid="models-table">
                    <thead><tr>
                        <th>"Model"</th>{many_teams.then(|| view! { <th>"Team"</th> })}<th>"Newest version"</th><th>"Its run's metrics"</th><th>"Aliases"</th><th>"Served as"</th><th>"Updated"</th>
                    </tr></thead>
                    <tbody>{rows.into_iter().map(|r| view! { <ModelLine row=r many_teams/> }).collect_view()}</tbody>
                </table>
            </div>
            {empty}
        </section>
    }
}

#[component]
fn ModelLine(row: ModelRow, many_teams: bool) -> impl IntoView {
    let href = format!("/models/{}/{}", row.team, row.name);
    let aliases = row
        .aliases
        .iter()
        .map(|(a, v)| view! { <span class="chip" data-testid="model-alias">{format!("{a} → v{v}")}</span> })
        .collect_view();
    let served = if row.deployments.is_empty() {
        view! { <span class="muted">"—"</span> }.into_any()
    } else {
        row.deployments
            .iter()
            .map(|d| {
                view! {
                    <span class="mr-2 whitespace-nowrap" data-testid="model-deployment">
                        <span class="mono text-xs">{format!("{} (v{})", d.name, d.version)}</span>" "
                        <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {}", d.state.badge())>{d.state.label()}</span>
                    </span>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <tr data-testid="model-row" data-model=row.name.clone()>
            <td>
                <a href=href class="font-medium">{row.name.clone()}</a>
                {(!row.description.is_empty()).then(|| view! { <p class="hint max-w-md truncate">{row.description.clone()}</p> })}
            </td>
            {many_teams.then(|| view! { <td>{row.team.clone()}</td> })}
            <td class="mono">{row.latest.clone().map(|v| format!("v{v}")).unwrap_or_else(|| "—".into())}</td>
            <td class="text-sm whitespace-nowrap" data-testid="model-metrics">
                {if row.metrics.is_empty() { "—".to_string() } else {
                    row.metrics.iter().map(|(k, v)| format!("{k} {}", crate::experiments::model::format_metric(*v))).collect::<Vec<_>>().join(" · ")
                }}
            </td>
            <td>{aliases}</td>
            <td>{served}</td>
            <td class="whitespace-nowrap">{crate::audit::trail::format_time(row.updated_ms)}</td>
        </tr>
    }
}
