//! `/teams/:team/members`: who has which persona, and (for team admins)
//! adding, changing and removing members.

use super::TeamTabs;
use crate::components::error_view::ErrorView;
use crate::components::field::Field;
use crate::components::reload::reload_when;
use crate::identity::Persona;
use crate::teams::members::{Member, MembersView, SetMember, SubjectKind, get_members};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn MembersPage() -> impl IntoView {
    let team = use_params_map().read_untracked().get("team").unwrap_or_default();
    let members = Resource::new({
        let team = team.clone();
        move || team.clone()
    }, get_members);
    view! {
        <Title text="Members"/>
        <TeamTabs/>
        <Suspense fallback=|| view! { <p class="muted">"Loading members…"</p> }>
            {move || {
                let team = team.clone();
                Suspend::new(async move {
                    match members.await {
                        Ok(v) => view! { <MembersEditor team initial=v/> }.into_any(),
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The members table and (for team admins) the add form: the page's island.
#[island(lazy)]
fn MembersEditor(team: String, initial: MembersView) -> impl IntoView {
    let set = ServerAction::<SetMember>::new();
    let data = RwSignal::new(initial);
    reload_when(move || set.version().get(), data, {
        let team = team.clone();
        move || get_members(team.clone())
    });
    move || view! { <MembersTable view=data.get() team=team.clone() set=set/> }
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
