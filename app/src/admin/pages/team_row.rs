//! One team in the platform admin's table, with its ceilings and retiring
//! opened on demand.

use crate::admin::teams::{RetireTeam, SetTeamCeiling, SetTeamPromotions, TeamRow, team_holdings};
use leptos::prelude::*;

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

/// Whether the team's promotions need a team admin's approval: a switch
/// that says what it did.
#[component]
fn Promotions(team: String, initially: bool) -> impl IntoView {
    let action = ServerAction::<SetTeamPromotions>::new();
    let on = RwSignal::new(initially);
    Effect::new(move |_| {
        if let Some(Err(_)) = action.value().get() {
            on.set(!on.get_untracked());
        }
    });
    view! {
        <label class="mt-4 flex items-center gap-2 text-sm">
            <input type="checkbox" prop:checked=on data-testid="promotions-need-approval"
                on:change=move |ev| {
                    let want = event_target_checked(&ev);
                    on.set(want);
                    action.dispatch(SetTeamPromotions { team: team.clone(), need_approval: want });
                }/>
            "Production: changing the version a model deployment serves needs a team admin's approval"
        </label>
        {move || action.value().get().map(|r| match r {
            Ok(()) => view! { <p class="notice-ok mt-1" role="status" data-testid="promotions-result">{if on.get_untracked() { "Promotions now need approval." } else { "Promotions need no approval now." }}</p> }.into_any(),
            Err(e) => view! { <p class="notice-error mt-1" role="alert" data-testid="promotions-result">{e.to_string()}</p> }.into_any(),
        })}
    }
}

/// One team in the platform admin's list: counts, the four quotas people
/// compare most as bars, and (opened on demand) ceilings and retiring.
#[component]
pub(super) fn TeamRowView(row: TeamRow, ceiling: ServerAction<SetTeamCeiling>, retire: ServerAction<RetireTeam>) -> impl IntoView {
    let bar = |resource: &str| {
        let line = row.quota.iter().find(|l| l.resource == resource);
        let pct = line.and_then(|l| l.fraction).map(|f| (f * 100.0).round() as u32).unwrap_or(0);
        let text = line.map(|l| format!("{} / {}", l.used, l.hard)).unwrap_or_else(|| "—".into());
        let level = crate::components::quota_bar::fill_class(pct);
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
            <td><a href=format!("/teams/{}", row.team.name)>{row.team.display_name.clone()}</a></td>
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
                        <Promotions team=name.clone() initially=row.promotions_need_approval/>
                        <Retire team=name.clone() retire=retire/>
                    </Show>
                </details>
            </td>
        </tr>
    }
}
