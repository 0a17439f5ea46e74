//! View pieces more than one team page shows: the team's tabs, and the
//! list of team cards (also on the home page).

use crate::model::team::TeamSummary;
use crate::teams::overview::{TeamAccess, get_team_access};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// Overview, Members, Quota and Audit of the team in the address; Members
/// and Audit only to those Kubernetes lets open them ([`TeamAccess`]).
#[component]
pub fn TeamTabs() -> impl IntoView {
    let params = use_params_map();
    let team = move || params.read().get("team").unwrap_or_default();
    let access = Resource::new(team, get_team_access);
    let tab = move |suffix: &'static str, label: &'static str| {
        view! {
            <A href=move || format!("/teams/{}{suffix}", team()) exact=true attr:class="tab"
                attr:data-testid=format!("tab-{}", label.to_lowercase())>{label}</A>
        }
    };
    let gated = move |suffix: &'static str, label: &'static str, open: fn(&TeamAccess) -> bool| {
        view! {
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { access.await.ok().filter(|a| open(a)).map(|_| tab(suffix, label)) })}
            </Transition>
        }
    };
    view! {
        <nav class="tabs" aria-label="Team">
            {tab("", "Overview")}
            {gated("/members", "Members", |a| a.members)}
            {tab("/quota", "Quota")}
            {gated("/audit", "Audit", |a| a.audit)}
        </nav>
    }
}

/// The person's teams as cards, each a link to the team's overview.
#[component]
pub fn TeamList(teams: Vec<TeamSummary>) -> impl IntoView {
    view! {
        <ul class="team-list" data-testid="team-list">
            {teams.into_iter().map(|t| {
                let href = format!("/teams/{}", t.name);
                let testid = format!("team-{}", t.name);
                view! {
                <li>
                    <A href=href attr:class="team-card" attr:data-testid=testid>
                        <span class="team-name">{t.display_name}</span>
                        <span class="muted mono">{t.name}</span>
                    </A>
                </li>
            }}).collect_view()}
        </ul>
    }
}
