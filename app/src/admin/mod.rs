//! Platform administration: every team at a glance.

use crate::components::error_view::ErrorView;
use crate::error::AppError;
use crate::teams::{QuotaLine, TeamSummary};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

pub mod requests;
#[cfg(feature = "ssr")]
pub mod server;

/// Refuses unless Kubernetes lets this person create namespaces (platform admins).
#[cfg(feature = "ssr")]
pub async fn require_platform_admin(client: &crate::platform::kube::UserClient) -> Result<(), AppError> {
    if crate::platform::access::may(client, "", "namespaces", "create", None).await? {
        Ok(())
    } else {
        Err(AppError::Forbidden("Only platform admins can do this.".into()))
    }
}

/// Creates a team with its quota, default limits and first team admin.
#[server(endpoint = "admin-team-create")]
pub async fn create_team(name: String, display_name: String, admin: String) -> Result<(), AppError> {
    use crate::audit::server::{Action, audited};
    let (state, who) = crate::auth::current().await?;
    let name = name.trim().to_string();
    server::check_new_team(&name, &display_name)?;
    crate::teams::members_server::check_name(crate::teams::members::SubjectKind::User, admin.trim())?;
    if !state.db.person_exists(admin.trim()).await.map_err(AppError::internal)? {
        return Err(AppError::Invalid(format!(
            "No one called “{}” has signed in to Atrium yet; the first team admin must have signed in once.",
            admin.trim()
        )));
    }
    let client = state.kube.for_user(&who)?;
    let actor = who.identity().username.clone();
    let object = format!("team {name} (admin {})", admin.trim());
    audited(
        &state.db,
        Action { actor: &actor, team: Some(&name), action: "team.create", object: &object },
        server::create_team(&client, &name, &display_name, admin.trim()),
    )
    .await?;
    state.access.forget_all();
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamRow {
    pub team: TeamSummary,
    pub quota: Vec<QuotaLine>,
    /// Users and groups holding a persona in the team.
    pub members: usize,
    pub notebooks: usize,
}

/// Every team with its quota use, members and notebooks: four list calls
/// in parallel, made as the platform admin.
#[server(endpoint = "admin-teams")]
pub async fn all_teams() -> Result<Vec<TeamRow>, AppError> {
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    server::team_rows(&client).await
}

/// Sets one ceiling of a team (never under its current limit).
#[server(endpoint = "admin-team-ceiling")]
pub async fn set_team_ceiling(team: String, resource: String, value: String) -> Result<(), AppError> {
    use crate::audit::server::{Action, audited};
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    require_platform_admin(&client).await?;
    if !crate::teams::quota::RESOURCES.contains(&resource.as_str()) {
        return Err(AppError::Invalid(format!("“{resource}” is not a quota the portal manages.")));
    }
    let actor = who.identity().username.clone();
    let object = format!("{resource}={}", value.trim());
    audited(
        &state.db,
        Action { actor: &actor, team: Some(&team), action: "ceiling.update", object: &object },
        server::set_ceiling(&client, &team, &resource, value.trim()),
    )
    .await
}

/// What retiring the team would delete.
#[server(endpoint = "admin-team-holdings")]
pub async fn team_holdings(team: String) -> Result<Vec<(String, usize)>, AppError> {
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    require_platform_admin(&client).await?;
    server::holdings(&client, &team).await
}

/// Deletes the team's namespace and everything in it, once the name is typed.
#[server(endpoint = "admin-team-retire")]
pub async fn retire_team(team: String, typed: String) -> Result<(), AppError> {
    use crate::audit::server::{Action, audited};
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    let actor = who.identity().username.clone();
    let object = format!("team {team}");
    audited(
        &state.db,
        Action { actor: &actor, team: Some(&team), action: "team.retire", object: &object },
        server::retire_team(&client, &team, typed.trim()),
    )
    .await?;
    state.access.forget_all();
    Ok(())
}

#[component]
pub fn AdminTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Admin">
            <A href="/admin" exact=true attr:class="tab" attr:data-testid="tab-teams">"Teams"</A>
            <A href="/admin/requests" attr:class="tab" attr:data-testid="tab-requests">"Quota requests"</A>
            <A href="/admin/catalog" attr:class="tab" attr:data-testid="tab-catalog">"Notebook catalog"</A>
            <A href="/admin/audit" attr:class="tab" attr:data-testid="tab-audit">"Audit"</A>
        </nav>
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let create = ServerAction::<CreateTeam>::new();
    let retire = ServerAction::<RetireTeam>::new();
    let ceiling = ServerAction::<SetTeamCeiling>::new();
    let rows = Resource::new(
        move || (create.version().get(), retire.version().get(), ceiling.version().get()),
        |_| all_teams(),
    );
    view! {
        <Title text="Admin"/>
        <h1 class="page-title">"Platform"</h1>
        <AdminTabs/>
        <CreateTeamForm create=create/>
        <Suspense fallback=|| view! { <p class="muted">"Loading teams…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => view! {
                        <section class="card overflow-x-auto">
                            <table class="table" data-testid="admin-teams">
                                <thead><tr>
                                    <th>"Team"</th><th>"Members"</th><th>"Notebooks"</th>
                                    <th>"CPU requested"</th><th>"Memory requested"</th><th>"GPUs"</th><th>"Pods"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|r| view! { <TeamRowView row=r ceiling=ceiling retire=retire/> }.into_any()).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CreateTeamForm(create: ServerAction<CreateTeam>) -> impl IntoView {
    let (name, display, admin) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let valid = move || crate::identity::is_dns1123_label(&name.get());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
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

#[component]
fn Retire(team: String, retire: ServerAction<RetireTeam>) -> impl IntoView {
    let open = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let t = team.clone();
    let holdings = Resource::new(move || open.get().then(|| t.clone()), |t| async move {
        match t { Some(t) => team_holdings(t).await.map(Some), None => Ok(None) }
    });
    let name = team.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        retire.dispatch(RetireTeam { team: name.clone(), typed: typed.get() });
    };
    let placeholder = team.clone();
    view! {
        <details class="mt-4">
            <summary class="btn-quiet" data-testid=format!("retire-open-{team}") on:click=move |_| open.set(true)>"Retire this team…"</summary>
            <form class="form mt-2" on:submit=submit>
                <Suspense fallback=|| view! { <p class="muted">"Counting what it holds…"</p> }>
                    {move || Suspend::new(async move {
                        match holdings.await {
                            Ok(Some(h)) => view! {
                                <p class="text-sm">"Retiring deletes the team and everything in it:"</p>
                                <ul class="list-disc pl-5 text-sm" data-testid="holdings">
                                    {h.into_iter().map(|(what, n)| view! { <li>{format!("{n} {what}")}</li> }).collect_view()}
                                    <li>"its data connections and other secrets (platform admins cannot see or count them)"</li>
                                </ul>
                            }.into_any(),
                            Ok(None) => ().into_any(),
                            Err(e) => view! { <p class="notice-error">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Suspense>
                <label class="form-row">"Type the team's name to confirm"
                    <input class="input mono" placeholder=placeholder data-testid="retire-typed" prop:value=typed on:input=move |ev| typed.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="btn-danger" data-testid="retire-submit">"Retire team"</button>
                {move || retire.value().get().and_then(|r| r.err()).map(|e| view! { <p class="notice-error" role="alert">{e.to_string()}</p> })}
            </form>
        </details>
    }
}

#[component]
fn Ceiling(team: String, action: ServerAction<SetTeamCeiling>) -> impl IntoView {
    let resource = RwSignal::new(crate::teams::quota::RESOURCES[0].to_string());
    let value = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(SetTeamCeiling { team: team.clone(), resource: resource.get(), value: value.get() });
    };
    view! {
        <details class="mt-4">
            <summary class="btn-quiet">"Set a ceiling…"</summary>
            <form class="mt-2 flex flex-wrap items-end gap-2" on:submit=submit>
                <select class="select" aria-label="Resource" on:change=move |ev| resource.set(event_target_value(&ev))>
                    {crate::teams::quota::RESOURCES.into_iter().map(|r| view! {
                        <option value=r>{crate::components::quota_bar::resource_label(r)}</option>
                    }).collect_view()}
                </select>
                <input class="input mono w-28" aria-label="Ceiling" placeholder="e.g. 8" prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
                <button type="submit" class="btn-primary">"Set"</button>
            </form>
            {move || action.value().get().and_then(|r| r.err()).map(|e| view! { <p class="notice-error mt-2" role="alert">{e.to_string()}</p> })}
        </details>
    }
}

/// One team in the platform admin's list: counts, the four quotas people
/// compare most as bars, and (opened on demand) ceilings and retiring.
#[component]
fn TeamRowView(row: TeamRow, ceiling: ServerAction<SetTeamCeiling>, retire: ServerAction<RetireTeam>) -> impl IntoView {
    let bar = |resource: &str| {
        let line = row.quota.iter().find(|l| l.resource == resource);
        let pct = line.and_then(|l| l.fraction).map(|f| (f * 100.0).round() as u32).unwrap_or(0);
        let text = line.map(|l| format!("{} / {}", l.used, l.hard)).unwrap_or_else(|| "—".into());
        let level = if pct >= 90 { "bar-fill bar-high" } else if pct >= 70 { "bar-fill bar-mid" } else { "bar-fill" };
        view! {
            <td class="min-w-32">
                <div class="bar" title=text.clone()><div class=level style=format!("width: {pct}%")></div></div>
                <span class="mono text-xs">{text}</span>
            </td>
        }
    };
    let manage = RwSignal::new(false);
    let name = row.team.name.clone();
    view! {
        <tr data-testid=format!("admin-team-{}", row.team.name)>
            <td><A href=format!("/teams/{}", row.team.name)>{row.team.display_name.clone()}</A></td>
            <td class="mono" data-testid="team-members">{row.members}</td>
            <td class="mono" data-testid="team-notebooks">{row.notebooks}</td>
            {bar("requests.cpu")}
            {bar("requests.memory")}
            {bar("requests.nvidia.com/gpu")}
            {bar("pods")}
            <td>
                <details>
                    <summary class="btn-quiet" data-testid=format!("manage-{}", row.team.name) on:click=move |_| manage.set(true)>"Manage"</summary>
                    <Show when=move || manage.get() fallback=|| ()>
                        <Ceiling team=name.clone() action=ceiling/>
                        <Retire team=name.clone() retire=retire/>
                    </Show>
                </details>
            </td>
        </tr>
    }
}
