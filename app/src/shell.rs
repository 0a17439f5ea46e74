//! The frame around every page: header with navigation by what the user may
//! use, the team switcher, the user menu, and the Kubernetes banner.

use crate::access::NavArea;
use crate::error::AppError;
use crate::identity::Persona;
use crate::teams::TeamSummary;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;
use serde::{Deserialize, Serialize};

/// Everything the frame shows, fetched once per page load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShellData {
    pub username: String,
    pub display_name: String,
    pub personas: Vec<Persona>,
    pub teams: Vec<TeamSummary>,
    pub nav: Vec<NavArea>,
    /// Set when Kubernetes could not be asked; shown as a banner.
    pub banner: Option<String>,
}

#[server(endpoint = "shell")]
pub async fn get_shell() -> Result<ShellData, AppError> {
    let (state, who) = crate::auth::current().await?;
    let id = who.identity();
    let client = state.kube.for_user(&who)?;
    let key = who.session_key();
    let teams = my_teams(&state, &who).await;
    let mut scope: Vec<String> = id.memberships.teams.keys().cloned().collect();
    if let Ok(teams) = &teams {
        scope.extend(teams.iter().map(|t| t.name.clone()));
    }
    scope.sort();
    scope.dedup();
    scope.truncate(10);
    if scope.is_empty() {
        // Cluster-wide rules show in the rules review of any namespace.
        scope.push("default".into());
    }
    let nav = state.access.nav_areas(&client, key, &scope).await;
    let mut banner = None;
    let teams = keep(teams, &mut banner).unwrap_or_default();
    let nav = keep(nav, &mut banner).unwrap_or_default();
    Ok(ShellData {
        username: id.username.clone(),
        display_name: id.display_name.clone(),
        personas: id.memberships.personas(),
        teams,
        nav,
        banner,
    })
}

/// The teams the session's person sees, cached per session.
#[cfg(feature = "ssr")]
pub async fn my_teams(
    state: &crate::state::AppState,
    who: &crate::auth::SignedIn,
) -> Result<Vec<crate::teams::TeamSummary>, AppError> {
    let id = who.identity();
    let client = state.kube.for_user(who)?;
    state
        .access
        .teams(who.session_key(), async {
            let bound = state.kube.bound_teams(&id.username, &id.groups).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read team memberships");
                vec![]
            });
            crate::teams::server::list_teams(&client, &id.memberships, &bound).await
        })
        .await
}

/// A failed part of the frame becomes the banner's text instead of an error page.
#[cfg(feature = "ssr")]
fn keep<T>(r: Result<T, AppError>, banner: &mut Option<String>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            banner.get_or_insert(e.to_string());
            None
        }
    }
}

pub type ShellResource = Resource<Result<ShellData, AppError>>;

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let data: ShellResource = Resource::new(|| (), |_| get_shell());
    provide_context(data);
    view! {
        <a href="#main" class="skip-link">"Skip to content"</a>
        <header class="topbar">
            <div class="topbar-inner">
                <A href="/" attr:class="brand" attr:data-testid="brand">"Atrium"</A>
                <Transition fallback=|| view! { <nav class="nav" aria-label="Main"></nav> }>
                    {move || Suspend::new(async move {
                        match data.await {
                            Ok(d) => view! { <Nav data=d/> }.into_any(),
                            Err(_) => view! { <nav class="nav" aria-label="Main"></nav> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </header>
        <main id="main" class="content">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    data.await.ok().and_then(|d| d.banner).map(|b| view! {
                        <div class="banner" role="alert" data-testid="kube-banner">{b}</div>
                    })
                })}
            </Transition>
            {children()}
        </main>
    }
}

#[component]
fn Nav(data: ShellData) -> impl IntoView {
    let items = data
        .nav
        .iter()
        .map(|area| {
            let href = area.href();
            let label = area.label();
            let testid = format!("nav-{}", label.to_lowercase());
            view! { <A href=href attr:class="nav-link" attr:data-testid=testid>{label}</A> }
        })
        .collect_view();
    view! {
        <nav class="nav" aria-label="Main" data-testid="nav">{items}</nav>
        <div class="topbar-right">
            <TeamSwitcher teams=data.teams.clone()/>
            <UserMenu name=data.display_name.clone() username=data.username.clone()/>
        </div>
    }
}

/// The team switcher: the server marks the team of the page; choosing
/// another opens its overview.
#[component]
fn TeamSwitcher(teams: Vec<TeamSummary>) -> impl IntoView {
    let path = use_location().pathname.get_untracked();
    let current = path.strip_prefix("/teams/").map(|t| t.split('/').next().unwrap_or_default().to_string());
    view! { <TeamChoice teams current/> }
}

#[island]
fn TeamChoice(teams: Vec<TeamSummary>, current: Option<String>) -> impl IntoView {
    if teams.is_empty() {
        return view! { <span class="muted" data-testid="no-teams">"No teams"</span> }.into_any();
    }
    let options = teams
        .into_iter()
        .map(|t| {
            let selected = current.as_deref() == Some(t.name.as_str());
            view! { <option value=t.name.clone() selected=selected>{t.display_name}</option> }
        })
        .collect_view();
    view! {
        <label class="sr-only" for="team-switcher">"Team"</label>
        <select
            id="team-switcher"
            class="select"
            data-testid="team-switcher"
            on:change=move |ev| {
                let team = event_target_value(&ev);
                if !team.is_empty() {
                    crate::navigation::go(&format!("/teams/{team}"));
                }
            }
        >
            <option value="" selected=current.is_none()>"Switch team…"</option>
            {options}
        </select>
    }
    .into_any()
}

#[component]
fn UserMenu(name: String, username: String) -> impl IntoView {
    view! {
        <div class="user">
            <span class="user-name" data-testid="user-name" title=username>{name}</span>
            <form method="post" action="/auth/logout">
                <button type="submit" class="btn-quiet" data-testid="sign-out">"Sign out"</button>
            </form>
        </div>
    }
}
