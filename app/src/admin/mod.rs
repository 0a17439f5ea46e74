//! Platform administration: every team at a glance.

use crate::components::error_view::ErrorView;
use crate::components::quota_bar::QuotaBars;
use crate::error::AppError;
use crate::teams::{QuotaLine, TeamSummary};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamRow {
    pub team: TeamSummary,
    pub quota: Vec<QuotaLine>,
}

/// Every team with its quota use: two list calls, made as the user.
#[server(endpoint = "admin-teams")]
pub async fn all_teams() -> Result<Vec<TeamRow>, AppError> {
    use crate::platform::kube::explain;
    use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
    use kube::api::{Api, ListParams};
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    let (namespaces, all_quotas) = (Api::<Namespace>::all(client.client()), Api::<ResourceQuota>::all(client.client()));
    let (team_params, quota_params) =
        (ListParams::default().labels(&format!("{}=true", crate::teams::TEAM_LABEL)), ListParams::default());
    let (teams, quotas) = futures::join!(namespaces.list(&team_params), all_quotas.list(&quota_params));
    let teams = teams.map_err(|e| explain(e, "the list of all teams"))?;
    let quotas = quotas.map_err(|e| explain(e, "the teams' quotas"))?;
    let mut rows: Vec<TeamRow> = teams
        .items
        .iter()
        .map(|ns| {
            let name = ns.metadata.name.clone().unwrap_or_default();
            let mine: Vec<ResourceQuota> =
                quotas.items.iter().filter(|q| q.metadata.namespace.as_deref() == Some(name.as_str())).cloned().collect();
            let display_name = ns
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(crate::teams::DISPLAY_NAME))
                .cloned()
                .unwrap_or_else(|| name.clone());
            TeamRow { team: TeamSummary { name, display_name }, quota: crate::teams::server::quota_lines(&mine) }
        })
        .collect();
    rows.sort_by(|a, b| a.team.name.cmp(&b.team.name));
    Ok(rows)
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let rows = Resource::new(|| (), |_| all_teams());
    view! {
        <Title text="Admin"/>
        <h1 class="page-title">"All teams"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading teams…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => view! {
                        <div class="grid-cards" data-testid="admin-teams">
                            {rows.into_iter().map(|r| view! {
                                <section class="card" data-testid=format!("admin-team-{}", r.team.name)>
                                    <h2 class="section-title">
                                        <A href=format!("/teams/{}", r.team.name)>{r.team.display_name}</A>
                                    </h2>
                                    <QuotaBars lines=r.quota/>
                                </section>
                            }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
