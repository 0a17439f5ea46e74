//! `/teams/:team`: the team, the person's role in it, its quota at a glance.

use super::TeamTabs;
use crate::components::error_view::ErrorView;
use crate::components::quota_bar::QuotaBars;
use crate::teams::overview::{TeamOverview, get_team_overview};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn TeamPage() -> impl IntoView {
    let params = use_params_map();
    let team = move || params.read().get("team").unwrap_or_default();
    let overview = Resource::new(team, get_team_overview);
    view! {
        <TeamTabs/>
        <Suspense fallback=|| view! { <p class="muted">"Loading team…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => view! { <TeamOverviewView overview=o/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TeamOverviewView(overview: TeamOverview) -> impl IntoView {
    let personas = overview.your_personas.iter().map(|p| view! { <span class="chip">{p.label()}</span> }).collect_view();
    view! {
        <Title text=overview.team.display_name.clone()/>
        <h1 class="page-title" data-testid="team-title">{overview.team.display_name.clone()}</h1>
        <p class="muted mono">{overview.team.name.clone()}</p>
        <section class="card" aria-labelledby="your-role">
            <h2 id="your-role" class="section-title">"Your role here"</h2>
            <div class="chips" data-testid="team-personas">{personas}</div>
        </section>
        <section class="card" aria-labelledby="quota">
            <h2 id="quota" class="section-title">"Quota"</h2>
            <QuotaBars lines=overview.quota/>
        </section>
    }
}
