//! `/experiments` and `/experiments/:team`: the experiments of the person's
//! teams with the time of their newest run, searched and sorted in place;
//! created, renamed, deleted and restored by those who may.

use crate::components::error_view::ErrorView;
use crate::components::notice::ActionNotice;
use crate::components::reload::reload_when;
use crate::experiments::api::{CreateExperiment, RenameExperiment, SetExperimentDeleted, get_experiments};
use crate::experiments::model::{ExperimentList, ExperimentRow, check_experiment_name};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn ExperimentsPage() -> impl IntoView {
    view! { <Listing team=None/> }
}

#[component]
pub fn TeamExperimentsPage() -> impl IntoView {
    let team = use_params_map().read_untracked().get("team").unwrap_or_default();
    view! { <Listing team=Some(team)/> }
}

#[component]
fn Listing(team: Option<String>) -> impl IntoView {
    let deleted = use_query_map().read_untracked().get("deleted").is_some_and(|d| d == "1");
    let data = Resource::new({
        let team = team.clone();
        move || (team.clone(), deleted)
    }, |(t, d)| get_experiments(t, d));
    let title = team.clone().map(|t| format!("Experiments · {t}")).unwrap_or_else(|| "Experiments".into());
    let here = team.clone().map(|t| format!("/experiments/{t}")).unwrap_or_else(|| "/experiments".into());
    view! {
        <Title text=title.clone()/>
        <h1 class="page-title" data-testid="area-title">{title}</h1>
        <nav class="tabs" aria-label="Which experiments">
            <a class="tab" href=here.clone() aria-current=(!deleted).then_some("page") data-testid="show-active">"Active"</a>
            <a class="tab" href=format!("{here}?deleted=1") aria-current=deleted.then_some("page") data-testid="show-deleted">"Deleted"</a>
        </nav>
        <Suspense fallback=|| view! { <p class="muted">"Loading experiments…"</p> }>
            {move || {
                let team = team.clone();
                Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                        Ok(list) => view! { <ExperimentsTable list team/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    LastRun,
    Name,
    Created,
}

/// The table with its search, sort and actions: the page's island.
#[island(lazy)]
fn ExperimentsTable(list: ExperimentList, team: Option<String>) -> impl IntoView {
    let create = ServerAction::<CreateExperiment>::new();
    let rename = ServerAction::<RenameExperiment>::new();
    let delete = ServerAction::<SetExperimentDeleted>::new();
    let deleted = list.deleted;
    let writable: Vec<String> = list.teams.iter().filter(|(_, w)| *w).map(|(t, _)| t.clone()).collect();
    let many_teams = team.is_none();
    let data = RwSignal::new(list);
    reload_when(move || create.version().get() + rename.version().get() + delete.version().get(), data, move || get_experiments(team.clone(), deleted));
    let search = RwSignal::new(String::new());
    let sort = RwSignal::new(SortBy::LastRun);
    let shown = move || {
        let q = search.get().trim().to_lowercase();
        let mut rows: Vec<ExperimentRow> = data.with(|d| d.rows.iter().filter(|r| q.is_empty() || r.name.to_lowercase().contains(&q)).cloned().collect());
        match sort.get() {
            SortBy::LastRun => rows.sort_by(|a, b| b.last_run_ms.unwrap_or(b.updated_ms).cmp(&a.last_run_ms.unwrap_or(a.updated_ms))),
            SortBy::Name => rows.sort_by_key(|r| r.name.to_lowercase()),
            SortBy::Created => rows.sort_by(|a, b| b.created_ms.cmp(&a.created_ms)),
        }
        rows
    };
    let may_write = {
        let writable = writable.clone();
        move |t: &str| writable.iter().any(|w| w == t)
    };
    view! {
        {(!deleted && !writable.is_empty()).then(|| view! { <CreateForm teams=writable.clone() create/> })}
        <section class="card space-y-3">
            <div class="flex flex-wrap items-end gap-3">
                <label class="form-row">"Search"
                    <input class="input" type="search" placeholder="experiment name" data-testid="exp-search"
                        on:input=move |e| search.set(event_target_value(&e))/>
                </label>
                <label class="form-row">"Sort"
                    <select class="select input" data-testid="exp-sort" on:change=move |e| sort.set(match event_target_value(&e).as_str() {
                        "name" => SortBy::Name, "created" => SortBy::Created, _ => SortBy::LastRun })>
                        <option value="last">"Newest run first"</option>
                        <option value="name">"Name"</option>
                        <option value="created">"Newest created first"</option>
                    </select>
                </label>
                <p class="hint ml-auto" data-testid="exp-count">{move || format!("{} experiments", shown().len())}</p>
            </div>
            <ActionNotice result=Signal::derive(move || create.value().get().map(|r| r.map(|_| ()))) ok="Experiment created." testid="exp-create-result"/>
            <ActionNotice result=rename.value() ok="Renamed." testid="exp-rename-result"/>
            <ActionNotice result=delete.value() ok=if deleted { "Restored." } else { "Deleted. Find it under “Deleted” to restore it." } testid="exp-delete-result"/>
            <div class="overflow-x-auto">
                <table class="table" data-testid="exp-table">
                    <thead><tr>
                        <th>"Name"</th>{many_teams.then(|| view! { <th>"Team"</th> })}<th>"Newest run"</th><th>"Created by"</th><th>"Tags"</th>
                        <th><span class="sr-only">"Actions"</span></th>
                    </tr></thead>
                    <tbody>
                        {move || shown().into_iter().map(|r| {
                            let can = may_write(&r.team);
                            view! { <ExperimentLine row=r many_teams can rename delete/> }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Show when=move || data.with(|d| d.rows.is_empty())>
                <p class="muted" data-testid="exp-empty">{if deleted { "No deleted experiments." } else { "No experiments yet. Runs logged from a notebook of the team appear here." }}</p>
            </Show>
        </section>
    }
}

#[component]
fn ExperimentLine(
    row: ExperimentRow,
    many_teams: bool,
    can: bool,
    rename: ServerAction<RenameExperiment>,
    delete: ServerAction<SetExperimentDeleted>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(row.name.clone());
    let href = format!("/experiments/{}/{}", row.team, row.id);
    let last = row.last_run_ms.map(crate::audit::trail::format_time).unwrap_or_else(|| "no runs yet".into());
    let tags = row.tags.iter().map(|(k, v)| view! { <span class="chip">{format!("{k}: {v}")}</span> }).collect_view();
    let (team, id, deleted) = (row.team.clone(), row.id.clone(), row.deleted);
    let actions = can.then(|| {
        let (t1, i1, t2, i2) = (team.clone(), id.clone(), team.clone(), id.clone());
        view! {
            <Show when=move || editing.get() fallback=move || view! {
                <button class="btn-quiet" data-testid="exp-rename" on:click=move |_| editing.set(true)>"Rename"</button>
            }>
                <input class="input" aria-label="New name" data-testid="exp-new-name" prop:value=draft on:input=move |e| draft.set(event_target_value(&e))/>
                <button class="btn-primary" data-testid="exp-rename-save" on:click={
                    let (t, i) = (t1.clone(), i1.clone());
                    move |_| { rename.dispatch(RenameExperiment { team: t.clone(), id: i.clone(), name: draft.get() }); editing.set(false); }
                }>"Save"</button>
            </Show>
            <button class="btn-quiet" data-testid=if deleted { "exp-restore" } else { "exp-delete" }
                on:click=move |_| { delete.dispatch(SetExperimentDeleted { team: t2.clone(), id: i2.clone(), deleted: !deleted }); }>
                {if deleted { "Restore" } else { "Delete" }}
            </button>
        }
    });
    view! {
        <tr data-testid="exp-row" data-name=row.name.clone()>
            <td>{if deleted { view! { <span class="font-medium">{row.name.clone()}</span> }.into_any() } else { view! { <a class="font-medium" href=href>{row.name.clone()}</a> }.into_any() }}</td>
            {many_teams.then(|| view! { <td>{row.team.clone()}</td> })}
            <td class="whitespace-nowrap" data-testid="exp-last-run">{last}</td>
            <td>{row.owner.clone().unwrap_or_else(|| "—".into())}</td>
            <td><div class="chips">{tags}</div></td>
            <td class="whitespace-nowrap">{actions}</td>
        </tr>
    }
}

/// Creating an experiment in one of the teams the person may write to.
#[component]
fn CreateForm(teams: Vec<String>, create: ServerAction<CreateExperiment>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let team = RwSignal::new(teams.first().cloned().unwrap_or_default());
    let problem = move || {
        let n = name.get();
        (!n.is_empty()).then(|| check_experiment_name(&n).err()).flatten()
    };
    let choose = (teams.len() > 1).then(|| view! {
        <label class="form-row">"Team"
            <select class="select input" data-testid="exp-create-team" on:change=move |e| team.set(event_target_value(&e))>
                {teams.iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
            </select>
        </label>
    });
    view! {
        <form class="card flex flex-wrap items-end gap-3" data-testid="exp-create" on:submit=move |e| {
            e.prevent_default();
            create.dispatch(CreateExperiment { team: team.get(), name: name.get() });
        }>
            {choose}
            <label class="form-row">"New experiment"
                <input class="input" data-testid="exp-create-name" autocomplete="off" prop:value=name on:input=move |e| name.set(event_target_value(&e))/>
            </label>
            <button type="submit" class="btn-primary" data-testid="exp-create-submit" disabled=move || create.pending().get()>"Create"</button>
            {move || problem().map(|p| view! { <p class="text-sm text-rose-700 dark:text-rose-300" role="alert">{p}</p> })}
        </form>
    }
}
