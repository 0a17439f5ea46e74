//! The team's members page: who has which persona, and (for team admins)
//! adding, changing and removing members.

#[cfg(feature = "ssr")]
use crate::audit::server::Actor;
use crate::components::error_view::ErrorView;
use crate::components::field::Field;
use crate::error::AppError;
use crate::identity::Persona;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SubjectKind {
    User,
    Group,
}

impl SubjectKind {
    pub fn rbac(self) -> &'static str {
        match self {
            SubjectKind::User => "User",
            SubjectKind::Group => "Group",
        }
    }

    pub fn from_rbac(s: &str) -> Option<SubjectKind> {
        match s {
            "User" => Some(SubjectKind::User),
            "Group" => Some(SubjectKind::Group),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub kind: SubjectKind,
    pub name: String,
    pub personas: Vec<Persona>,
    /// The RoleBindings that give these personas.
    pub bindings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersView {
    pub members: Vec<Member>,
    /// Whether Kubernetes lets this person change bindings here.
    pub can_manage: bool,
}

#[server(endpoint = "team-members")]
pub async fn get_members(team: String) -> Result<MembersView, AppError> {
    let (state, who) = crate::auth::current().await?;
    tracing::Span::current().record("team", team.as_str());
    let client = state.kube.for_user(&who)?;
    let (members, can_manage) = futures::join!(
        super::members_server::list(&client, &team),
        crate::platform::access::may(&client, "rbac.authorization.k8s.io", "rolebindings", "create", Some(&team))
    );
    Ok(MembersView { members: members?, can_manage: can_manage? })
}

/// Gives a user or group exactly these personas in the team (none removes them).
#[server(endpoint = "team-member-set")]
pub async fn set_member(team: String, kind: SubjectKind, name: String, personas: Vec<Persona>, new: bool) -> Result<(), AppError> {
    let (state, who) = crate::auth::current().await?;
    tracing::Span::current().record("team", team.as_str());
    super::members_server::check_name(kind, &name)?;
    if personas.contains(&Persona::PlatformAdmin) {
        return Err(AppError::Invalid("Platform admin is not a team persona.".into()));
    }
    if new {
        if personas.is_empty() {
            return Err(AppError::Invalid("Choose at least one persona for the new member.".into()));
        }
        let known = match kind {
            SubjectKind::User => state.db.person_exists(&name).await,
            SubjectKind::Group => state.db.group_known(&name).await,
        }
        .map_err(AppError::internal)?;
        if !known {
            return Err(AppError::Invalid(match kind {
                SubjectKind::User => format!("No one called “{name}” has signed in to Atrium yet. Ask them to sign in once, or add a group they belong to."),
                SubjectKind::Group => format!("No one who has signed in belongs to a group called “{name}”. Check the name with your identity provider."),
            }));
        }
    }
    let me = Actor::new(state, who)?;
    let action = if personas.is_empty() { "member.remove" } else if new { "member.add" } else { "member.change" };
    let object = format!(
        "{} {} ({})",
        kind.rbac().to_lowercase(),
        name,
        personas.iter().map(|p| p.slug()).collect::<Vec<_>>().join(", ")
    );
    let work = super::members_server::set_personas(&me.client, &team, kind, &name, &personas);
    me.audited(Some(&team), action, &object, work).await?;
    me.state.access.forget_all();
    Ok(())
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let params = use_params_map();
    let team = move || params.read().get("team").unwrap_or_default();
    let set = ServerAction::<SetMember>::new();
    let members = Resource::new(move || (team(), set.version().get()), |(t, _)| get_members(t));
    view! {
        <Title text="Members"/>
        <super::TeamTabs/>
        <Suspense fallback=|| view! { <p class="muted">"Loading members…"</p> }>
            {move || Suspend::new(async move {
                match members.await {
                    Ok(v) => view! { <MembersTable view=v team=team() set=set/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MembersTable(view: MembersView, team: String, set: ServerAction<SetMember>) -> impl IntoView {
    let can = view.can_manage;
    let rows = view
        .members
        .into_iter()
        .map(|m| view! { <MemberRow member=m team=team.clone() can=can set=set/> }.into_any())
        .collect_view();
    view! {
        <crate::components::notice::ActionNotice result=Signal::derive(move || set.value().get()) ok="Saved." testid="members-result"/>
        <section class="card">
            <h2 class="section-title">"Members"</h2>
            <table class="table" data-testid="members">
                <thead><tr><th>"Who"</th><th>"Personas"</th>{can.then(|| view! { <th><span class="sr-only">"Actions"</span></th> })}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
        {can.then(|| view! { <AddMember team=team.clone() set=set/> })}
    }
}

#[component]
fn MemberRow(member: Member, team: String, can: bool, set: ServerAction<SetMember>) -> impl IntoView {
    let kind_label = match member.kind {
        SubjectKind::User => "user",
        SubjectKind::Group => "group",
    };
    let chips = member.personas.iter().map(|p| view! { <span class="chip">{p.label()}</span> }).collect_view();
    let testid = format!("member-{}", member.name);
    let editing = RwSignal::new(false);
    let chosen = RwSignal::new(member.personas.clone());
    let (name, kind) = (member.name.clone(), member.kind);
    let actions = can.then(|| {
        let (team2, name2) = (team.clone(), name.clone());
        let save = move |_| {
            set.dispatch(SetMember { team: team2.clone(), kind, name: name2.clone(), personas: chosen.get(), new: false });
            editing.set(false);
        };
        let (team3, name3) = (team.clone(), name.clone());
        let remove = move |_| {
            set.dispatch(SetMember { team: team3.clone(), kind, name: name3.clone(), personas: vec![], new: false });
        };
        view! {
            <td class="whitespace-nowrap">
                <Show when=move || editing.get() fallback=move || view! {
                    <button class="btn-quiet" data-testid="edit-member" on:click=move |_| editing.set(true)>"Change"</button>
                }>
                    <button class="btn-primary" data-testid="save-member" on:click=save.clone()>"Save"</button>
                </Show>
                <button class="btn-quiet" data-testid=format!("remove-{}", name.clone()) on:click=remove>"Remove"</button>
            </td>
        }
    });
    view! {
        <tr data-testid=testid>
            <td><span class="font-medium">{member.name.clone()}</span>" "<span class="badge">{kind_label}</span></td>
            <td>
                <Show when=move || editing.get() fallback=move || ()>
                    <PersonaChecks chosen=chosen prefix="edit-persona"/>
                </Show>
                <Show when=move || !editing.get() fallback=|| ()>
                    <div class="chips">{chips.clone()}</div>
                </Show>
            </td>
            {actions}
        </tr>
    }
    .into_any()
}

#[component]
fn AddMember(team: String, set: ServerAction<SetMember>) -> impl IntoView {
    let (kind, set_kind) = signal(SubjectKind::User);
    let (name, set_name) = signal(String::new());
    let chosen = RwSignal::new(Vec::<Persona>::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set.dispatch(SetMember { team: team.clone(), kind: kind.get(), name: name.get().trim().to_string(), personas: chosen.get(), new: true });
    };
    view! {
        <form class="card form" on:submit=submit data-testid="add-member">
            <h2 class="section-title">"Add a member"</h2>
            <Field id="member-kind" label="Kind">
                <select id="member-kind" class="select" on:change=move |ev| set_kind.set(if event_target_value(&ev) == "group" { SubjectKind::Group } else { SubjectKind::User })>
                    <option value="user">"User"</option>
                    <option value="group">"Group"</option>
                </select>
            </Field>
            <Field id="member-name" label="Name">
                <input id="member-name" class="input" data-testid="add-name" autocomplete="off"
                    prop:value=name on:input=move |ev| set_name.set(event_target_value(&ev))/>
            </Field>
            <fieldset class="form-row"><legend>"Personas"</legend><PersonaChecks chosen=chosen prefix="add-persona"/></fieldset>
            <button type="submit" class="btn-primary" data-testid="add-submit" disabled=move || set.pending().get()>"Add member"</button>
        </form>
    }
}

/// One checkbox per team persona, bound to `chosen`.
#[component]
fn PersonaChecks(chosen: RwSignal<Vec<Persona>>, prefix: &'static str) -> impl IntoView {
    view! {
        <div class="checks">
            {Persona::TEAM.into_iter().map(|p| view! {
                <label class="check">
                    <input type="checkbox" data-testid=format!("{prefix}-{}", p.slug())
                        prop:checked=move || chosen.get().contains(&p)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            chosen.update(|c| { c.retain(|x| *x != p); if on { c.push(p); c.sort(); } });
                        }/>
                    {p.label()}
                </label>
            }).collect_view()}
        </div>
    }
}
