//! The trail as a page: the filter, the CSV export link and the table,
//! shown for one team or for all teams.

use crate::audit::trail::{format_time, get_audit};
use crate::components::error_view::ErrorView;
use crate::components::field::Field;
use crate::error::AppError;
use crate::model::audit::{AuditEntry, AuditFilter};
use leptos::prelude::*;

/// The trail of one team, or of every team when `team` is `None`, as first
/// shown: loaded on the server, then handed to the island that filters it.
#[component]
pub fn AuditTrail(team: Option<String>) -> impl IntoView {
    let first = Resource::new({
        let team = team.clone();
        move || AuditFilter { team: team.clone(), limit: LIMIT, ..AuditFilter::default() }
    }, get_audit);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let team = team.clone();
                Suspend::new(async move { view! { <AuditFiltered team initial=first.await/> } })
            }}
        </Suspense>
    }
}

/// Entries shown at most.
const LIMIT: i64 = 500;

/// The filter, the export link and the entries: the page's island.
#[island(lazy)]
fn AuditFiltered(team: Option<String>, initial: Result<Vec<AuditEntry>, AppError>) -> impl IntoView {
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let since = RwSignal::new(String::new());
    let filter = move || AuditFilter {
        team: team.clone(),
        actor: Some(actor.get().trim().to_string()).filter(|s| !s.is_empty()),
        action: Some(action.get()).filter(|s| !s.is_empty()),
        since_ms: since.get().parse::<i64>().ok().map(|hours| now_ms_client() - hours * 3_600_000),
        until_ms: None,
        limit: LIMIT,
    };
    let entries = RwSignal::new(initial);
    {
        let filter = filter.clone();
        Effect::watch(
            filter,
            move |f, _, _| {
                let f = f.clone();
                leptos::task::spawn_local(async move { entries.set(get_audit(f).await) });
            },
            false,
        );
    }
    let csv_href = move || {
        let f = filter();
        let mut q = vec![];
        if let Some(t) = f.team { q.push(format!("team={t}")); }
        if let Some(a) = f.actor { q.push(format!("actor={a}")); }
        if let Some(a) = f.action { q.push(format!("action={a}")); }
        if let Some(s) = f.since_ms { q.push(format!("since_ms={s}")); }
        format!("/export/audit.csv?{}", q.join("&"))
    };
    view! {
        <section class="card form" aria-label="Filter">
            <div class="grid gap-4 sm:grid-cols-4">
                <Field id="audit-actor" label="Person">
                    <input id="audit-actor" class="input" data-testid="audit-actor" prop:value=actor on:change=move |ev| actor.set(event_target_value(&ev))/>
                </Field>
                <Field id="audit-action" label="Action">
                    <select id="audit-action" class="select" data-testid="audit-action" on:change=move |ev| action.set(event_target_value(&ev))>
                        <option value="">"Any"</option>
                        <option value="member.">"Members"</option>
                        <option value="quota.">"Quota and requests"</option>
                        <option value="limits.">"Default limits"</option>
                        <option value="team.">"Teams"</option>
                        <option value="ceiling.">"Ceilings"</option>
                    </select>
                </Field>
                <Field id="audit-since" label="When">
                    <select id="audit-since" class="select" on:change=move |ev| since.set(event_target_value(&ev))>
                        <option value="">"Any time"</option>
                        <option value="1">"Last hour"</option>
                        <option value="24">"Last day"</option>
                        <option value="168">"Last week"</option>
                    </select>
                </Field>
                // Offered only once the trail could be read: the export asks the same.
                <div class="form-row self-end">
                    {move || entries.with(|e| e.is_ok()).then(|| view! {
                        <a class="btn-quiet" href=csv_href.clone() data-testid="audit-csv" rel="external" download="audit.csv">"Export CSV"</a>
                    })}
                </div>
            </div>
        </section>
        {move || match entries.get() {
            Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="audit-empty">"Nothing recorded yet."</p> }.into_any(),
            Ok(list) => view! { <AuditTable entries=list/> }.into_any(),
            Err(e) => view! { <ErrorView error=e/> }.into_any(),
        }}
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <section class="card overflow-x-auto">
            <table class="table" data-testid="audit">
                <thead><tr><th>"When"</th><th>"Who"</th><th>"Team"</th><th>"Action"</th><th>"Object"</th><th>"Result"</th></tr></thead>
                <tbody>
                    {entries.into_iter().map(|e| view! {
                        <tr data-testid="audit-row">
                            <td class="mono whitespace-nowrap">{format_time(e.at_ms)}</td>
                            <td>{e.actor}</td>
                            <td class="mono">{e.team.unwrap_or_default()}</td>
                            <td class="mono" data-testid="audit-row-action">{e.action}</td>
                            <td>{e.object}</td>
                            <td title=e.detail.clone()>{e.outcome.as_str()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

fn now_ms_client() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys_now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

#[cfg(feature = "hydrate")]
fn js_sys_now() -> i64 {
    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = Date, js_name = now)]
        fn date_now() -> f64;
    }
    date_now() as i64
}
