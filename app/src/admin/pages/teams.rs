//! `/admin`: every team at a glance for platform admins: creating one, and
//! a table of all of them (found by name, a page at a time) with their
//! quota use, members, notebooks, ceilings and retiring.

use super::team_row::TeamRowView;
use super::AdminTabs;
use crate::admin::teams::{CreateTeam, RetireTeam, SetTeamCeiling, TeamRow, all_teams};
use crate::components::error_view::ErrorView;
use crate::components::reload::reload_when;
use leptos::prelude::*;
use leptos_meta::Title;

/// Teams shown per page of the table.
pub const PER_PAGE: usize = 25;

#[component]
pub fn AdminPage() -> impl IntoView {
    let rows = Resource::new(|| (), |_| all_teams());
    view! {
        <Title text="Admin"/>
        <h1 class="page-title">"Platform"</h1>
        <AdminTabs/>
        <Suspense fallback=|| view! { <p class="muted">"Loading teams…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => view! { <AdminTeams initial=rows/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Creating a team and the table of all of them: the page's island.
#[island(lazy)]
fn AdminTeams(initial: Vec<TeamRow>) -> impl IntoView {
    let create = ServerAction::<CreateTeam>::new();
    let retire = ServerAction::<RetireTeam>::new();
    let ceiling = ServerAction::<SetTeamCeiling>::new();
    let rows = RwSignal::new(initial);
    reload_when(move || create.version().get() + retire.version().get() + ceiling.version().get(), rows, all_teams);
    // Kept across reloads of the rows, so a change does not lose the place.
    let place = Place { search: RwSignal::new(String::new()), page: RwSignal::new(0), created: RwSignal::new(None) };
    // Once the rows hold a team just created, show the page it is on. An effect,
    // after rendering: setting these while the table renders would wake the
    // table being replaced, whose values are already gone.
    Effect::new(move |_| {
        let Some(name) = place.created.get() else { return };
        if let Some(i) = rows.with(|list| list.iter().position(|r| r.team.name == name)) {
            place.search.set(String::new());
            place.page.set(i / PER_PAGE);
            place.created.set(None);
        }
    });
    view! {
        <CreateTeamForm create=create created=place.created/>
        <section class="card space-y-3" aria-labelledby="admin-teams-title">
            <div class="flex flex-wrap items-end justify-between gap-3">
                <h2 id="admin-teams-title" class="section-title">"Teams"</h2>
                <div class="form-row">
                    <label for="admin-team-search">"Find a team"</label>
                    <input id="admin-team-search" class="input" type="search" placeholder="name or display name" autocomplete="off"
                        data-testid="admin-search" prop:value=place.search
                        on:input=move |ev| { place.search.set(event_target_value(&ev)); place.page.set(0); }/>
                </div>
            </div>
            {move || view! { <TeamTable rows=rows.get() place=place ceiling=ceiling retire=retire/> }}
        </section>
    }
}

/// Where the admin is in the table: what they search, which page, and the
/// team they just asked to create (shown once it is there).
#[derive(Clone, Copy)]
struct Place {
    search: RwSignal<String>,
    page: RwSignal<usize>,
    created: RwSignal<Option<String>>,
}

#[component]
fn TeamTable(rows: Vec<TeamRow>, place: Place, ceiling: ServerAction<SetTeamCeiling>, retire: ServerAction<RetireTeam>) -> impl IntoView {
    let rows = StoredValue::new(rows);
    let found = Memo::new(move |_| place.search.with(|q| rows.with_value(|r| matching(r, q))));
    let window = Memo::new(move |_| Window::of(found.with(Vec::len), place.page.get()));
    let shown = move || {
        let w = window.get();
        found.with(|f| f[w.start..w.end].to_vec())
    };
    view! {
        <div class="overflow-x-auto">
            <table class="table" data-testid="admin-teams">
                <thead><tr>
                    <th>"Team"</th><th>"Members"</th><th>"Notebooks"</th>
                    <th>"CPU requested"</th><th>"Memory requested"</th><th>"GPUs"</th><th>"Pods"</th><th><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    <For each=shown key=|r| r.team.name.clone() let:r>
                        <TeamRowView row=r ceiling=ceiling retire=retire/>
                    </For>
                </tbody>
            </table>
        </div>
        <div class="flex flex-wrap items-center justify-between gap-3">
            <p class="hint" data-testid="admin-teams-count" aria-live="polite">
                {move || window.get().summary(&place.search.get())}
            </p>
            <nav class="flex gap-2" aria-label="Pages of teams">
                <button type="button" class="btn-quiet" data-testid="admin-prev" disabled=move || !window.get().has_previous()
                    on:click=move |_| place.page.set(window.get_untracked().page.saturating_sub(1))>"Previous"</button>
                <button type="button" class="btn-quiet" data-testid="admin-next" disabled=move || !window.get().has_next()
                    on:click=move |_| place.page.set(window.get_untracked().page + 1)>"Next"</button>
            </nav>
        </div>
    }
}

/// The teams whose name or display name contains `query`, any case.
fn matching(rows: &[TeamRow], query: &str) -> Vec<TeamRow> {
    let q = query.trim().to_lowercase();
    rows.iter()
        .filter(|r| q.is_empty() || r.team.name.contains(&q) || r.team.display_name.to_lowercase().contains(&q))
        .cloned()
        .collect()
}

/// One page of a list of `total` items: `start..end`, the page asked for
/// kept within the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    page: usize,
    start: usize,
    end: usize,
    total: usize,
}

impl Window {
    fn of(total: usize, page: usize) -> Window {
        let page = page.min(total.saturating_sub(1) / PER_PAGE);
        let start = page * PER_PAGE;
        Window { page, start, end: (start + PER_PAGE).min(total), total }
    }

    fn has_previous(self) -> bool {
        self.page > 0
    }

    fn has_next(self) -> bool {
        self.end < self.total
    }

    fn summary(self, search: &str) -> String {
        match (self.total, search.trim()) {
            (0, "") => "No teams yet.".into(),
            (0, q) => format!("No team matches “{q}”."),
            (n, _) => format!("Showing {}–{} of {n}", self.start + 1, self.end),
        }
    }
}

#[component]
fn CreateTeamForm(create: ServerAction<CreateTeam>, created: RwSignal<Option<String>>) -> impl IntoView {
    let (name, display, admin) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let valid = move || crate::identity::is_dns1123_label(&name.get());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        created.set(Some(name.get().trim().to_string()));
        create.dispatch(CreateTeam { name: name.get(), display_name: display.get(), admin: admin.get() });
    };
    view! {
        <details class="card">
            <summary class="section-title cursor-pointer" data-testid="create-team-open">"Create a team"</summary>
            <form class="form mt-3" on:submit=submit data-testid="create-team">
                <div class="form-row">
                    <label for="team-name">"Name"</label>
                    <input id="team-name" class="input mono" data-testid="team-name" prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                    <span class="hint" class:text-rose-600=move || !name.get().is_empty() && !valid()>
                        "Lowercase letters, digits and dashes; becomes the team's namespace."
                    </span>
                </div>
                <div class="form-row">
                    <label for="team-display">"Display name"</label>
                    <input id="team-display" class="input" data-testid="team-display" prop:value=display on:input=move |ev| display.set(event_target_value(&ev))/>
                </div>
                <div class="form-row">
                    <label for="team-admin">"First team admin (user name)"</label>
                    <input id="team-admin" class="input" data-testid="team-admin" prop:value=admin on:input=move |ev| admin.set(event_target_value(&ev))/>
                </div>
                <button type="submit" class="btn-primary" data-testid="create-team-submit" disabled=move || create.pending().get()>"Create team"</button>
                <crate::components::notice::ActionNotice result=Signal::derive(move || create.value().get()) ok="Team created." testid="create-team-result"/>
            </form>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::teams::TeamSummary;

    fn row(name: &str, display_name: &str) -> TeamRow {
        let team = TeamSummary { name: name.into(), display_name: display_name.into() };
        TeamRow { team, quota: vec![], members: 0, notebooks: 0, promotions_need_approval: false }
    }

    #[test]
    fn search_looks_at_name_and_display_name_in_any_case() {
        let rows = vec![row("team-a", "Fraud Detection"), row("team-b", "Churn"), row("risk", "Credit Risk")];
        let names = |q: &str| matching(&rows, q).into_iter().map(|r| r.team.name).collect::<Vec<_>>();
        assert_eq!(names("TEAM"), ["team-a", "team-b"]);
        assert_eq!(names(" fraud "), ["team-a"]);
        assert_eq!(names("risk"), ["risk"]);
        assert_eq!(names(""), ["team-a", "team-b", "risk"]);
    }

    #[test]
    fn pages_hold_25_and_stay_within_the_list() {
        let w = Window::of(51, 0);
        assert_eq!((w.start, w.end, w.has_previous(), w.has_next()), (0, 25, false, true));
        assert_eq!(w.summary(""), "Showing 1–25 of 51");
        let last = Window::of(51, 2);
        assert_eq!((last.start, last.end, last.has_next()), (50, 51, false));
        assert_eq!(last.summary(""), "Showing 51–51 of 51");
        assert_eq!(Window::of(51, 9), last, "beyond the end shows the last page");
        assert_eq!(Window::of(25, 1).page, 0);
        let none = Window::of(0, 3);
        assert_eq!((none.start, none.end, none.has_previous(), none.has_next()), (0, 0, false, false));
        assert_eq!(none.summary("zz"), "No team matches “zz”.");
    }
}
