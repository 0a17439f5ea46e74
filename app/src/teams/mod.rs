//! Teams: the namespaces a person works in, and each team's quota at a glance.

use crate::components::error_view::ErrorView;
use crate::components::quota_bar::QuotaBars;
use crate::error::AppError;
use crate::identity::Persona;
use leptos::prelude::*;
use leptos_meta::Title;
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
use serde::{Deserialize, Serialize};

pub mod members;
#[cfg(feature = "ssr")]
pub mod members_server;
pub mod quota;
#[cfg(feature = "ssr")]
pub mod quota_server;
#[cfg(feature = "ssr")]
pub mod server;

/// Label that marks a namespace as an Atrium team.
pub const TEAM_LABEL: &str = "atrium.io/team";
/// Pod Security `restricted`, enforced (and warned and audited) at the
/// cluster's newest version, on every team namespace: no root, no privilege
/// escalation, no added capabilities, a seccomp profile (decision 0008).
pub const POD_SECURITY_LABELS: [(&str, &str); 6] = [
    ("pod-security.kubernetes.io/enforce", "restricted"),
    ("pod-security.kubernetes.io/enforce-version", "latest"),
    ("pod-security.kubernetes.io/warn", "restricted"),
    ("pod-security.kubernetes.io/warn-version", "latest"),
    ("pod-security.kubernetes.io/audit", "restricted"),
    ("pod-security.kubernetes.io/audit-version", "latest"),
];

/// The labels of a team namespace: what makes it a team, and its fence.
pub fn namespace_labels() -> std::collections::BTreeMap<String, String> {
    [(TEAM_LABEL, "true"), ("app.kubernetes.io/part-of", "atrium")]
        .into_iter()
        .chain(POD_SECURITY_LABELS)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Annotation holding a team's display name.
pub const DISPLAY_NAME: &str = "atrium.io/display-name";

pub use crate::model::team::{QuotaLine, TeamSummary};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamOverview {
    pub team: TeamSummary,
    pub your_personas: Vec<Persona>,
    pub quota: Vec<QuotaLine>,
}

/// What of a team a person may open beyond its overview and quota, as
/// Kubernetes answers for them: the pages are refused to everyone else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamAccess {
    /// The members page: who may list the team's RoleBindings.
    pub members: bool,
    /// The audit trail and its CSV export: who may change the team's quota.
    pub audit: bool,
}

#[server(endpoint = "team-access")]
pub async fn get_team_access(team: String) -> Result<TeamAccess, AppError> {
    let (state, who) = crate::auth::current().await?;
    tracing::Span::current().record("team", team.as_str());
    let client = state.kube.for_user(&who)?;
    server::access(&state.access, &client, who.session_key(), &team).await
}

#[server(endpoint = "team-overview")]
pub async fn get_team_overview(team: String) -> Result<TeamOverview, AppError> {
    let (state, who) = crate::auth::current().await?;
    tracing::Span::current().record("team", team.as_str());
    let client = state.kube.for_user(&who)?;
    server::overview(&client, &who, &team).await
}

#[component]
pub fn TeamsPage() -> impl IntoView {
    let shell = expect_context::<crate::shell::ShellResource>();
    view! {
        <Title text="Teams"/>
        <h1 class="page-title">"Teams"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading teams…"</p> }>
            {move || Suspend::new(async move {
                match shell.await {
                    Ok(d) if d.teams.is_empty() => view! {
                        <p class="muted" data-testid="teams-empty">"You are not a member of any team yet. Ask a team admin to add you."</p>
                    }.into_any(),
                    Ok(d) => view! { <TeamList teams=d.teams/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

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
