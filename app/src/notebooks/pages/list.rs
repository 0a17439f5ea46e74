//! `/notebooks` and `/notebooks/:team`: the live list of the notebooks of
//! all the person's teams, or of one, with search, filters, sorting and a
//! page at a time; for one team also its data connections and idle stop.

use super::follow::follow;
use super::row::NotebookLine;
use crate::components::error_view::ErrorView;
use crate::components::notice::ActionNotice;
use crate::notebooks::api::{NotebookList, SetIdleLimit, SetNotebookRunning, get_notebooks};
use crate::error::AppError;
use crate::notebooks::connections::{Connection, Connections};
use crate::notebooks::model::{NotebookRow, Phase};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// Rows shown at a time in long lists.
pub const PAGE: usize = 50;

#[component]
pub fn NotebooksPage() -> impl IntoView {
    view! { <Listing team=None/> }
}

#[component]
pub fn TeamNotebooksPage() -> impl IntoView {
    let team = use_params_map().read_untracked().get("team").unwrap_or_default();
    view! { <Listing team=Some(team)/> }
}

/// The page around the list: one server call for rows, teams and (one team)
/// its data connections.
#[component]
fn Listing(team: Option<String>) -> impl IntoView {
    let data = Resource::new({
        let team = team.clone();
        move || team.clone()
    }, get_notebooks);
    let title = team.clone().map(|t| format!("Notebooks · {t}")).unwrap_or_else(|| "Notebooks".into());
    view! {
        <Title text=title.clone()/>
        <h1 class="page-title">{title}</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading notebooks…"</p> }>
            {move || {
                let team = team.clone();
                Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                        Ok(mut list) => match team {
                            None => view! { <LiveList list/> }.into_any(),
                            Some(team) => {
                                let connections = list.connections.take();
                                let idle = list.can_set_idle.then(|| list.idle.first().map(|(_, words)| words.clone()));
                                view! { <TeamNotebooks list team connections idle/> }.into_any()
                            }
                        },
                    }
                })
            }}
        </Suspense>
    }
}

/// The live list of all the person's teams: the page's island.
#[island(lazy)]
fn LiveList(list: NotebookList) -> impl IntoView {
    view! { <LiveTable list team=None/> }
}

/// One team's live list, data connections and idle stop (each shown to those
/// who may change it): the page's island, one download with the list's code.
#[island(lazy)]
fn TeamNotebooks(
    list: NotebookList,
    team: String,
    connections: Option<Result<Vec<Connection>, AppError>>,
    idle: Option<Option<String>>,
) -> impl IntoView {
    view! {
        <LiveTable list team=Some(team.clone())/>
        {connections.map(|initial| view! { <Connections team=team.clone() initial/> })}
        {idle.map(|current| view! { <IdleForm team=team.clone() current/> })}
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Newest,
    Name,
    Status,
    Team,
}

/// What the filter bar chooses; every row is filtered and sorted by it.
#[derive(Clone, Copy)]
struct Filters {
    search: RwSignal<String>,
    status: RwSignal<String>,
    team: RwSignal<String>,
    sort: RwSignal<SortBy>,
}

impl Filters {
    fn new() -> Self {
        Filters {
            search: RwSignal::new(String::new()),
            status: RwSignal::new(String::new()),
            team: RwSignal::new(String::new()),
            sort: RwSignal::new(SortBy::Newest),
        }
    }

    fn apply(self, rows: Vec<NotebookRow>) -> Vec<NotebookRow> {
        let (q, s, t) = (self.search.get().to_lowercase(), self.status.get(), self.team.get());
        let mut out: Vec<NotebookRow> = rows
            .into_iter()
            .filter(|r| q.is_empty() || r.name.contains(&q) || r.owner.to_lowercase().contains(&q) || r.image.to_lowercase().contains(&q))
            .filter(|r| s.is_empty() || r.phase.label() == s)
            .filter(|r| t.is_empty() || r.team == t)
            .collect();
        match self.sort.get() {
            SortBy::Newest => out.sort_by(|a, b| b.created_ms.cmp(&a.created_ms)),
            SortBy::Name => out.sort_by(|a, b| a.name.cmp(&b.name)),
            SortBy::Status => out.sort_by(|a, b| a.phase.cmp(&b.phase).then(a.name.cmp(&b.name))),
            SortBy::Team => out.sort_by(|a, b| a.team.cmp(&b.team).then(a.name.cmp(&b.name))),
        }
        out
    }
}

#[component]
fn LiveTable(list: NotebookList, team: Option<String>) -> impl IntoView {
    let rows = RwSignal::new(list.rows.clone());
    let now = RwSignal::new(list.now_ms);
    let live = RwSignal::new(false);
    follow(team.clone(), rows, live, now);
    let filters = Filters::new();
    let running = ServerAction::<SetNotebookRunning>::new();
    // Long lists show a page at a time; filters and sorting cover all rows.
    let limit = RwSignal::new(PAGE);
    let matching = move || filters.apply(rows.get());
    let hidden = move || matching().len().saturating_sub(limit.get());
    let shown = move || matching().into_iter().take(limit.get()).collect::<Vec<_>>();
    let many_teams = team.is_none();
    let first_total = list.total;
    let count = Signal::derive(move || {
        let r = rows.get();
        let up = r.iter().filter(|r| r.phase == Phase::Running).count();
        // Until the live stream has sent every row, the page holds the newest ones.
        if live.get() { format!("{} notebooks, {up} running", r.len()) } else { format!("{first_total} notebooks") }
    });
    // Offered only where Kubernetes lets the person create notebooks.
    let creatable: Vec<(String, String)> = list.teams.iter().filter(|t| t.2).map(|t| (t.0.clone(), t.1.clone())).collect();
    let may_change = {
        let creatable = creatable.clone();
        move |team: &str| creatable.iter().any(|(t, _)| t == team)
    };
    // Opening runs code in the notebook: its owner, or who Kubernetes allows.
    let may_open = {
        let (openable, me) = (list.openable.clone(), list.me.clone());
        move |r: &NotebookRow| r.owner == me || openable.contains(&r.team)
    };
    let team_choices = many_teams.then(|| list.teams.iter().map(|(n, d, _)| (n.clone(), d.clone())).collect::<Vec<_>>());
    view! {
        <NewNotebook teams=creatable/>
        <section class="card space-y-3">
            <FilterBar filters=filters teams=team_choices count=count live=live/>
            {list.idle.into_iter().map(|(t, words)| view! { <p class="hint" data-testid="nb-idle">{format!("Notebooks of {t} stop after {words} without activity.")}</p> }).collect_view()}
            <ActionNotice result=running.value() ok="Done." testid="nb-action-result"/>
            <div class="overflow-x-auto">
            <table class="table" data-testid="nb-table">
                <thead><tr>
                    <th>"Name"</th>{many_teams.then(|| view! { <th>"Team"</th> })}<th>"Status"</th><th>"Owner"</th><th>"Image"</th>
                    <th>"Size"</th><th>"GPUs"</th><th>"Volume"</th><th>"Age"</th><th>"Last activity"</th><th><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    <For each=shown key=|r| (r.team.clone(), r.name.clone(), r.phase, r.reason.clone(), r.last_activity_ms) let:r>
                        <NotebookLine can_change=may_change(&r.team) can_open=may_open(&r) row=r many_teams=many_teams now=now running=running/>
                    </For>
                </tbody>
            </table>
            </div>
            <Show when=move || { hidden() > 0 }>
                <button class="btn-quiet" data-testid="nb-more" on:click=move |_| limit.update(|l| *l += PAGE)>
                    {move || format!("Show {} more", hidden().min(PAGE))}
                </button>
            </Show>
            <Show when=move || rows.with(|r| r.is_empty())>
                <p class="muted" data-testid="nb-empty">"No notebooks yet."</p>
            </Show>
        </section>
    }
}

/// Search, status, team (all teams only) and sort, with the live count.
#[component]
fn FilterBar(filters: Filters, teams: Option<Vec<(String, String)>>, count: Signal<String>, live: RwSignal<bool>) -> impl IntoView {
    let many_teams = teams.is_some();
    view! {
        <div class="flex flex-wrap items-end gap-3">
            <label class="form-row">"Search"
                <input class="input" type="search" placeholder="name, owner or image" data-testid="nb-search"
                    on:input=move |e| filters.search.set(event_target_value(&e))/>
            </label>
            <label class="form-row">"Status"
                <select class="select input" data-testid="nb-status-filter" on:change=move |e| filters.status.set(event_target_value(&e))>
                    <option value="">"Any"</option>
                    {[Phase::Running, Phase::Starting, Phase::Pending, Phase::Failed, Phase::Stopping, Phase::Stopped]
                        .into_iter().map(|p| view! { <option value=p.label()>{p.label()}</option> }).collect_view()}
                </select>
            </label>
            {teams.map(|teams| view! {
                <label class="form-row">"Team"
                    <select class="select input" data-testid="nb-team-filter" on:change=move |e| filters.team.set(event_target_value(&e))>
                        <option value="">"All my teams"</option>
                        {teams.into_iter().map(|(n, d)| view! { <option value=n>{d}</option> }).collect_view()}
                    </select>
                </label>
            })}
            <label class="form-row">"Sort"
                <select class="select input" data-testid="nb-sort" on:change=move |e| filters.sort.set(match event_target_value(&e).as_str() {
                    "name" => SortBy::Name, "status" => SortBy::Status, "team" => SortBy::Team, _ => SortBy::Newest })>
                    <option value="newest">"Newest first"</option>
                    <option value="name">"Name"</option>
                    <option value="status">"Status"</option>
                    {many_teams.then(|| view! { <option value="team">"Team"</option> })}
                </select>
            </label>
            <p class="hint ml-auto" data-testid="nb-count">{count}
                <span class="ml-2" data-testid="nb-live" data-live=move || live.get().to_string()>
                    {move || if live.get() { "· live" } else { "· connecting…" }}
                </span>
            </p>
        </div>
    }
}

/// One "New notebook" control, however many teams the person may create
/// notebooks in: a link when there is one, else a choice of team first.
#[component]
fn NewNotebook(teams: Vec<(String, String)>) -> impl IntoView {
    match teams.len() {
        0 => ().into_any(),
        1 => view! {
            <div class="flex justify-end">
                <a href=format!("/notebooks/{}/new", teams[0].0) class="btn-primary" data-testid="new-notebook">"New notebook"</a>
            </div>
        }
        .into_any(),
        _ => view! { <NewNotebookInTeam teams=teams/> }.into_any(),
    }
}

/// A team is chosen (a native, required select: keyboard and screen readers
/// work as everywhere), then the form of that team opens.
#[component]
fn NewNotebookInTeam(teams: Vec<(String, String)>) -> impl IntoView {
    let select = NodeRef::<leptos::html::Select>::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        // NB: read from the element, which a browser may have restored on "back".
        let team = select.get_untracked().map(|s| s.value()).unwrap_or_default();
        if !team.is_empty() {
            crate::navigation::go(&format!("/notebooks/{team}/new"));
        }
    };
    view! {
        <form class="flex flex-wrap items-end justify-end gap-2" data-testid="new-notebook-form" on:submit=submit>
            <div class="form-row">
                <label for="new-notebook-team">"Team of the new notebook"</label>
                <select id="new-notebook-team" class="select input" required data-testid="new-notebook-team" node_ref=select>
                    <option value="" selected>"Choose a team…"</option>
                    {teams.into_iter().map(|(n, d)| view! { <option value=n>{d}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit" class="btn-primary" data-testid="new-notebook">"New notebook"</button>
        </form>
    }
}

/// A team's idle stop.
#[component]
fn IdleForm(team: String, current: Option<String>) -> impl IntoView {
    let action = ServerAction::<SetIdleLimit>::new();
    let minutes = RwSignal::new(String::new());
    let current = RwSignal::new(current);
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            let m = minutes.get_untracked().trim().to_string();
            current.set((!matches!(m.as_str(), "" | "off" | "0")).then(|| format!("{m} min")));
        }
    });
    view! {
        <section class="card space-y-2">
            <h2 class="section-title">"Stop idle notebooks"</h2>
            <p class="hint">"Notebooks of this team whose server reports no activity for this many minutes are stopped; their volumes are kept. Leave empty to turn it off."</p>
            <p data-testid="idle-current">{move || match current.get() {
                Some(words) => format!("Now: after {words} without activity."),
                None => "Now: off.".to_string(),
            }}</p>
            <div class="flex items-end gap-2">
                <label class="form-row">"Minutes"
                    <input class="input w-32" inputmode="numeric" data-testid="idle-minutes" on:input=move |e| minutes.set(event_target_value(&e))/>
                </label>
                <button class="btn-primary" data-testid="idle-save"
                    on:click=move |_| { action.dispatch(SetIdleLimit { team: team.clone(), minutes: minutes.get() }); }>"Save"</button>
            </div>
            <ActionNotice result=action.value() ok="Saved." testid="idle-result"/>
        </section>
    }
}
