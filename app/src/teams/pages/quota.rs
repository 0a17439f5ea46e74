//! `/teams/:team/quota`: used versus limit, what uses it, changing limits
//! up to the ceiling, asking for more, and default container limits.

use super::TeamTabs;
use crate::components::error_view::ErrorView;
use crate::components::field::Field;
use crate::components::notice::ActionNotice;
use crate::components::reload::reload_when;
use crate::model::quota::{QuotaRequest, resource_label};
use crate::teams::quota::{
    Consumer, LimitDefaults, QuotaChange, QuotaView, RESOURCES, RequestMore, SaveDefaults, SaveQuota, get_quota,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn QuotaPage() -> impl IntoView {
    let team = use_params_map().read_untracked().get("team").unwrap_or_default();
    let quota = Resource::new({
        let team = team.clone();
        move || team.clone()
    }, get_quota);
    view! {
        <Title text="Quota"/>
        <TeamTabs/>
        <Suspense fallback=|| view! { <p class="muted">"Loading quota…"</p> }>
            {move || {
                let team = team.clone();
                Suspend::new(async move {
                    match quota.await {
                        Ok(v) => view! { <QuotaIsland team initial=v/> }.into_any(),
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// Limits, requests and defaults with their outcomes: the page's island.
#[island(lazy)]
fn QuotaIsland(team: String, initial: QuotaView) -> impl IntoView {
    let save = ServerAction::<SaveQuota>::new();
    let defaults = ServerAction::<SaveDefaults>::new();
    let ask = ServerAction::<RequestMore>::new();
    let data = RwSignal::new(initial);
    reload_when(move || save.version().get() + defaults.version().get() + ask.version().get(), data, move || get_quota(team.clone()));
    view! {
        <ActionNotice result=Signal::derive(move || save.value().get()) ok="Saved." testid="quota-result"/>
        <ActionNotice result=Signal::derive(move || defaults.value().get()) ok="Saved." testid="defaults-result"/>
        <ActionNotice result=Signal::derive(move || ask.value().get()) ok="Saved." testid="request-result"/>
        {move || view! { <QuotaEditor view=data.get() save=save defaults=defaults ask=ask/> }}
    }
}

#[component]
fn QuotaEditor(
    view: QuotaView,
    save: ServerAction<SaveQuota>,
    defaults: ServerAction<SaveDefaults>,
    ask: ServerAction<RequestMore>,
) -> impl IntoView {
    let QuotaView { team, limits_version, rows, defaults: current, consumers, can_edit, requests } = view;
    let edits: Vec<(String, RwSignal<String>)> =
        rows.iter().map(|r| (r.resource.clone(), RwSignal::new(r.hard.clone().unwrap_or_default()))).collect();
    let originals: Vec<Option<String>> = rows.iter().map(|r| r.hard.clone()).collect();
    let table_rows = rows
        .iter()
        .zip(edits.iter())
        .map(|(r, (_, value))| {
            let pct = r.fraction.map(|f| (f * 100.0).round() as u32).unwrap_or(0);
            let level = crate::components::quota_bar::fill_class(pct);
            let label = resource_label(&r.resource);
            let value = *value;
            view! {
                <tr data-testid=format!("quota-row-{}", r.resource)>
                    <th scope="row" class="font-medium">{label.clone()}</th>
                    <td class="w-1/3">
                        <div class="bar" role="meter" aria-label=label.clone() aria-valuemin="0" aria-valuemax="100" aria-valuenow=pct.to_string()>
                            <div class=level style=format!("width: {pct}%")></div>
                        </div>
                    </td>
                    <td class="mono" data-testid="used">{r.used.clone()}</td>
                    <td>
                        {if can_edit {
                            view! { <input class="input w-28 mono" aria-label=format!("{label} limit") data-testid="limit"
                                prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/> }.into_any()
                        } else {
                            view! { <span class="mono" data-testid="limit">{r.hard.clone().unwrap_or_else(|| "none".into())}</span> }.into_any()
                        }}
                    </td>
                    <td class="mono muted" data-testid="ceiling">{r.ceiling.clone().unwrap_or_else(|| "—".into())}</td>
                </tr>
            }
        })
        .collect_view();
    let team_for_save = team.clone();
    let rv = limits_version.clone().unwrap_or_default();
    let edits_for_save = edits.clone();
    let on_save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let changes: Vec<QuotaChange> = edits_for_save
            .iter()
            .zip(originals.iter())
            .filter(|((_, v), orig)| orig.as_deref() != Some(v.get().trim()))
            .map(|((r, v), _)| QuotaChange { resource: r.clone(), value: v.get().trim().to_string() })
            .collect();
        save.dispatch(SaveQuota { team: team_for_save.clone(), limits_version: rv.clone(), changes });
    };
    view! {
        <form class="card" on:submit=on_save data-testid="quota-form">
            <h2 class="section-title">"Quota"</h2>
            <table class="table">
                <thead><tr><th>"Resource"</th><th>"Use"</th><th>"Used"</th><th>"Limit"</th><th>"Ceiling"</th></tr></thead>
                <tbody>{table_rows}</tbody>
            </table>
            {can_edit.then(|| view! {
                <div class="mt-4 flex items-center gap-3">
                    <button type="submit" class="btn-primary" data-testid="quota-save" disabled=move || save.pending().get()>"Save limits"</button>
                    <span class="hint">"Limits can go up to the ceiling the platform admins set; ask below for more."</span>
                </div>
            })}
        </form>
        <Consumers consumers=consumers/>
        {can_edit.then(|| view! { <RequestMoreForm team=team.clone() ask=ask/> })}
        <Requests requests=requests/>
        <DefaultsForm team=team.clone() current=current can_edit=can_edit action=defaults/>
    }
}

/// What uses the quota: pods by CPU requested, as bars.
#[component]
fn Consumers(consumers: Vec<Consumer>) -> impl IntoView {
    let max = consumers.iter().map(|c| c.cpu).fold(0.0, f64::max);
    view! {
        <section class="card" data-testid="consumers">
            <h2 class="section-title">"What uses it"</h2>
            {if consumers.is_empty() {
                view! { <p class="muted">"Nothing runs in this team right now."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th>"Pod"</th><th>"CPU requested"</th><th></th><th>"Memory"</th><th>"GPUs"</th></tr></thead>
                        <tbody>
                            {consumers.into_iter().map(|c| {
                                let pct = if max > 0.0 { (c.cpu / max * 100.0).round() } else { 0.0 };
                                view! {
                                    <tr>
                                        <td class="mono">{c.name}</td>
                                        <td class="w-1/3"><div class="bar"><div class="bar-fill" style=format!("width: {pct}%")></div></div></td>
                                        <td class="mono">{format!("{:.2}", c.cpu)}</td>
                                        <td class="mono">{format!("{:.1} GiB", c.memory_bytes / 1024f64.powi(3))}</td>
                                        <td class="mono">{c.gpus.to_string()}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn RequestMoreForm(team: String, ask: ServerAction<RequestMore>) -> impl IntoView {
    let resource = RwSignal::new("requests.nvidia.com/gpu".to_string());
    let amount = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let options = RESOURCES
        .into_iter()
        .map(|r| view! { <option value=r selected=move || resource.get() == r>{resource_label(r)}</option> })
        .collect_view();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        ask.dispatch(RequestMore { team: team.clone(), resource: resource.get(), amount: amount.get().trim().into(), reason: reason.get() });
    };
    view! {
        <form class="card form" on:submit=submit data-testid="request-form">
            <h2 class="section-title">"Ask for more than the ceiling"</h2>
            <Field id="req-resource" label="Resource">
                <select id="req-resource" class="select" data-testid="request-resource" on:change=move |ev| resource.set(event_target_value(&ev))>{options}</select>
            </Field>
            <Field id="req-amount" label="New limit">
                <input id="req-amount" class="input mono" data-testid="request-amount" prop:value=amount on:input=move |ev| amount.set(event_target_value(&ev))/>
            </Field>
            <Field id="req-reason" label="Why">
                <textarea id="req-reason" class="input" data-testid="request-reason" prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            </Field>
            <button type="submit" class="btn-primary" data-testid="request-submit" disabled=move || ask.pending().get()>"Send request"</button>
        </form>
    }
}

#[component]
fn Requests(requests: Vec<QuotaRequest>) -> impl IntoView {
    (!requests.is_empty()).then(|| view! {
        <section class="card" data-testid="requests">
            <h2 class="section-title">"Requests"</h2>
            <table class="table">
                <thead><tr><th>"Resource"</th><th>"Asked"</th><th>"By"</th><th>"Status"</th><th>"Note"</th></tr></thead>
                <tbody>
                    {requests.into_iter().map(|r| view! {
                        <tr data-testid=format!("request-{}", r.id)>
                            <td>{resource_label(&r.resource)}</td>
                            <td class="mono">{r.amount}</td>
                            <td>{r.requested_by}</td>
                            <td data-testid="request-status">{r.status}</td>
                            <td class="muted">{r.decision_reason.unwrap_or(r.reason)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    })
}

#[component]
fn DefaultsForm(team: String, current: LimitDefaults, can_edit: bool, action: ServerAction<SaveDefaults>) -> impl IntoView {
    let fields = [
        ("Default CPU request", RwSignal::new(current.cpu_request.clone()), "defaults-cpu-request"),
        ("Default memory request", RwSignal::new(current.memory_request.clone()), "defaults-memory-request"),
        ("Default CPU limit", RwSignal::new(current.cpu_limit.clone()), "defaults-cpu-limit"),
        ("Default memory limit", RwSignal::new(current.memory_limit.clone()), "defaults-memory-limit"),
    ];
    let inputs = fields
        .iter()
        .map(|&(label, sig, id)| {
            view! {
                <Field id=id label=label>
                    <input id=id class="input mono w-32" data-testid=id disabled=!can_edit
                        prop:value=sig on:input=move |ev| sig.set(event_target_value(&ev))/>
                </Field>
            }
        })
        .collect_view();
    let sigs: Vec<RwSignal<String>> = fields.iter().map(|f| f.1).collect();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let d = LimitDefaults {
            cpu_request: sigs[0].get().trim().into(),
            memory_request: sigs[1].get().trim().into(),
            cpu_limit: sigs[2].get().trim().into(),
            memory_limit: sigs[3].get().trim().into(),
        };
        action.dispatch(SaveDefaults { team: team.clone(), defaults: d });
    };
    view! {
        <form class="card form" on:submit=submit data-testid="defaults-form">
            <h2 class="section-title">"Defaults for containers that ask for nothing"</h2>
            <div class="grid gap-4 sm:grid-cols-4">{inputs}</div>
            {can_edit.then(|| view! { <button type="submit" class="btn-primary" data-testid="defaults-save">"Save defaults"</button> })}
        </form>
    }
}
