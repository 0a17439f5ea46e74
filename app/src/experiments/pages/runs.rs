//! `/experiments/:team/:id`: an experiment's runs, a page at a time as MLflow
//! pages them, filtered with MLflow's search syntax and sorted by any metric,
//! param or attribute on the server, with the columns the person picks. All
//! server-rendered: the filter is a plain form and the address holds the
//! view, so a link shows the same runs.

use crate::components::error_view::ErrorView;
use crate::error::AppError;
use crate::experiments::api::get_runs;
use crate::experiments::model::{Column, RunRow, RunsPage, Sort};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// What the address asks for.
#[derive(Clone, Debug, Default, PartialEq)]
struct View {
    filter: String,
    sort: Sort,
    page: Option<String>,
    /// Columns asked for; empty: the first metrics and params seen.
    columns: Vec<Column>,
    /// Whether the address holds a choice of columns (the form was sent),
    /// to be remembered; if not, the choice remembered is shown.
    picked: bool,
}

impl View {
    fn from_query(q: &leptos_router::params::ParamsMap) -> View {
        let columns: Vec<Column> = q.get_all("col").unwrap_or_default().iter().filter_map(|c| Column::parse(c)).collect();
        View {
            filter: q.get("filter").unwrap_or_default(),
            sort: Sort {
                by: q.get("sort").filter(|s| !s.is_empty()).unwrap_or_else(|| "start_time".into()),
                descending: q.get("dir").as_deref() != Some("asc"),
            },
            page: q.get("page").filter(|p| !p.is_empty()),
            picked: q.get("cols").is_some() || !columns.is_empty(),
            columns,
        }
    }

    /// The address of this view on another page of runs.
    fn href(&self, base: &str, page: Option<&str>) -> String {
        let mut q = url_pairs(&[("filter", &self.filter), ("sort", &self.sort.by), ("dir", if self.sort.descending { "desc" } else { "asc" })]);
        for c in &self.columns {
            q.push_str(&url_pairs(&[("col", &c.key())]));
        }
        if let Some(p) = page {
            q.push_str(&url_pairs(&[("page", p)]));
        }
        format!("{base}?{}", q.trim_start_matches('&'))
    }
}

fn url_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("&{k}={v}")
        })
        .collect()
}

#[component]
pub fn ExperimentPage() -> impl IntoView {
    let (team, id) = use_params_map().with_untracked(|p| (p.get("team").unwrap_or_default(), p.get("id").unwrap_or_default()));
    let view = use_query_map().with_untracked(View::from_query);
    let data = Resource::new({
        let (team, id, view) = (team.clone(), id.clone(), view.clone());
        move || (team.clone(), id.clone(), view.clone())
    }, |(t, i, v)| {
        let columns = v.picked.then(|| v.columns.iter().map(|c| c.key()).collect());
        get_runs(t, i, v.filter, v.sort, v.page, columns)
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading runs…"</p> }>
            {move || {
                let (team, id, view) = (team.clone(), id.clone(), view.clone());
                Suspend::new(async move {
                    match data.await {
                        Ok(page) => view! { <Runs team page view/> }.into_any(),
                        // A filter MLflow cannot use is said next to the filter.
                        Err(AppError::Invalid(why)) => view! { <RunsRefused team id view why/> }.into_any(),
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn RunsRefused(team: String, id: String, view: View, why: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY);
    }
    view! {
        <Title text="Runs"/>
        <p class="hint"><a href=format!("/experiments/{team}")>{format!("← Experiments of {team}")}</a></p>
        <h1 class="page-title">"Runs"</h1>
        <FilterForm view keys=vec![] base=format!("/experiments/{team}/{id}")/>
        <p class="notice-error" role="alert" data-testid="runs-error">{why}</p>
    }
}

#[component]
fn FilterForm(view: View, keys: Vec<Column>, base: String) -> impl IntoView {
    let mut sortable: Vec<(String, String)> =
        vec![("start_time".into(), "Start time".into()), ("run_name".into(), "Run name".into()), ("status".into(), "Status".into())];
    sortable.extend(keys.iter().map(|c| (c.key(), c.key())));
    if !sortable.iter().any(|(k, _)| *k == view.sort.by) {
        sortable.push((view.sort.by.clone(), view.sort.by.clone()));
    }
    let chosen = view.columns.clone();
    let column_choices = keys
        .iter()
        .map(|c| {
            let on = chosen.contains(c);
            view! { <label class="check"><input type="checkbox" name="col" value=c.key() checked=on/>{c.key()}</label> }
        })
        .collect_view();
    view! {
        <form method="get" action=base class="card space-y-3" data-testid="runs-filter">
            <div class="flex flex-wrap items-end gap-3">
                <label class="form-row grow">"Filter (MLflow search syntax, e.g. metrics.rmse < 0.5 and params.lr = '0.01')"
                    <input class="input mono" name="filter" value=view.filter.clone() data-testid="runs-filter-text" autocomplete="off"/>
                </label>
                <label class="form-row">"Sort by"
                    <select class="select input" name="sort" data-testid="runs-sort">
                        {sortable.into_iter().map(|(k, l)| { let on = k == view.sort.by; view! { <option value=k selected=on>{l}</option> } }).collect_view()}
                    </select>
                </label>
                <label class="form-row">"Order"
                    <select class="select input" name="dir" data-testid="runs-dir">
                        <option value="desc" selected=view.sort.descending>"High to low, newest first"</option>
                        <option value="asc" selected=!view.sort.descending>"Low to high, oldest first"</option>
                    </select>
                </label>
                <button type="submit" class="btn-primary" data-testid="runs-apply">"Show runs"</button>
            </div>
            {(!keys.is_empty()).then(|| view! {
                <details data-testid="runs-columns">
                    <summary class="btn-quiet inline-block">"Columns"</summary>
                    <input type="hidden" name="cols" value="1"/>
                    <div class="checks">{column_choices}</div>
                    <p class="hint">"Your choice is remembered for this experiment. Pick none to go back to the first metrics and parameters."</p>
                </details>
            })}
        </form>
    }
}

#[component]
fn Runs(team: String, page: RunsPage, view: View) -> impl IntoView {
    let RunsPage { experiment, runs, next, keys, columns: chosen, now_ms } = page;
    let base = format!("/experiments/{team}/{}", experiment.id);
    // The keys offered include picked ones no run on this page has.
    let mut keys = keys;
    for c in &chosen {
        if !keys.contains(c) {
            keys.push(c.clone());
        }
    }
    let columns: Vec<Column> = if chosen.is_empty() {
        let metrics = keys.iter().filter(|c| matches!(c, Column::Metric(_))).take(6);
        let params = keys.iter().filter(|c| matches!(c, Column::Param(_))).take(4);
        metrics.chain(params).cloned().collect()
    } else {
        chosen
    };
    let heads = columns.iter().map(|c| {
        let kind = match c { Column::Metric(_) => "metric", Column::Param(_) => "param", Column::Tag(_) => "tag" };
        view! { <th title=format!("{kind} {}", c.label())>{c.label().to_string()}</th> }
    }).collect_view();
    let more = next.as_deref().map(|token| view.href(&base, Some(token)));
    let first = view.page.is_some().then(|| view.href(&base, None));
    // The form ticks the columns shown (picked now, last time, or the default).
    let view = View { columns: columns.clone(), ..view };
    let count = runs.len();
    let rows = runs.into_iter().map(|r| view! { <RunLine run=r columns=columns.clone() base=base.clone() now_ms/> }).collect_view();
    view! {
        <Title text=experiment.name.clone()/>
        <p class="hint"><a href=format!("/experiments/{team}")>{format!("← Experiments of {team}")}</a></p>
        <h1 class="page-title" data-testid="exp-title">{experiment.name.clone()}</h1>
        <FilterForm view=view.clone() keys=keys base=base.clone()/>
        <form method="get" action=format!("{base}/compare") class="card space-y-3" data-testid="runs-pick">
            <div class="flex items-center gap-3">
                <button type="submit" class="btn-quiet" data-testid="runs-compare">"Compare selected runs"</button>
                <span class="hint">"Pick 2 to 100 runs."</span>
            </div>
            <div class="overflow-x-auto">
                <table class="table" data-testid="runs">
                    <thead><tr><th><span class="sr-only">"Pick"</span></th><th>"Run"</th><th>"Status"</th><th>"Started"</th><th>"Duration"</th><th>"User"</th><th>"Source"</th>{heads}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {(count == 0).then(|| view! { <p class="muted" data-testid="runs-empty">"No runs match."</p> })}
            <nav class="flex gap-2" aria-label="Pages of runs">
                {first.map(|h| view! { <a class="btn-quiet" href=h data-testid="runs-first">"First page"</a> })}
                {more.map(|h| view! { <a class="btn-quiet" href=h data-testid="runs-next">"Next page"</a> })}
            </nav>
        </form>
    }
}

#[component]
fn RunLine(run: RunRow, columns: Vec<Column>, base: String, now_ms: i64) -> impl IntoView {
    let cells = columns.iter().map(|c| view! { <td class="mono" data-testid=format!("cell-{}", c.key())>{c.value(&run)}</td> }).collect_view();
    let started = run.start_ms.map(crate::audit::trail::format_time).unwrap_or_default();
    let source = match (&run.source, &run.commit) {
        (Some(s), Some(c)) => format!("{s} @ {}", &c[..c.len().min(8)]),
        (Some(s), None) => s.clone(),
        (None, Some(c)) => c[..c.len().min(8)].to_string(),
        (None, None) => "—".into(),
    };
    let name = if run.name.is_empty() { run.id.clone() } else { run.name.clone() };
    view! {
        <tr data-testid="run-row" data-run=run.id.clone()>
            <td><input type="checkbox" name="run" value=run.id.clone() aria-label=format!("Compare {name}") data-testid="run-pick"/></td>
            <td><a class="font-medium" href=format!("{base}/runs/{}", run.id)>{name}</a></td>
            <td data-testid="run-status">{run.status.clone()}</td>
            <td class="whitespace-nowrap">{started}</td>
            <td>{run.duration(now_ms).unwrap_or_default()}</td>
            <td>{run.user.clone().unwrap_or_default()}</td>
            <td class="mono text-xs">
                {run.notebook.clone().map(|nb| view! { <a class="mr-1" href=format!("/notebooks/{}/{nb}", base.split('/').nth(2).unwrap_or_default()) data-testid="run-notebook">{format!("notebook {nb}")}</a> })}
                {source}
            </td>
            {cells}
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_round_trips_through_its_address() {
        let v = View {
            filter: "metrics.rmse < 0.5 and params.lr = '0.01'".into(),
            sort: Sort { by: "metrics.rmse".into(), descending: false },
            page: None,
            columns: vec![Column::Metric("rmse".into())],
            picked: true,
        };
        let href = v.href("/experiments/team-a/1", Some("tok=="));
        assert!(href.starts_with("/experiments/team-a/1?filter=metrics.rmse%20%3C%200.5"), "{href}");
        assert!(href.contains("&sort=metrics.rmse&dir=asc&col=metrics.rmse&page=tok%3D%3D"), "{href}");
    }
}
