//! The audit trail: every change made through the portal, who made it, to
//! what, and how it ended. Writing the entry is part of the action.

#[cfg(feature = "ssr")]
pub mod server;

pub use crate::model::audit::{AuditEntry, AuditFilter, Outcome};

/// One CSV cell. NB: spreadsheets run a cell starting with `=`, `+`, `-`,
/// `@`, tab or carriage return as a formula, so such cells get a leading `'`
/// (OWASP's advice on CSV injection); then RFC 4180 quoting.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// The entries as CSV (RFC 4180 quoting), oldest last as shown.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("time_ms,actor,team,action,object,outcome,detail\n");
    for e in entries {
        let row = [
            e.at_ms.to_string(),
            csv_field(&e.actor),
            csv_field(e.team.as_deref().unwrap_or("")),
            csv_field(&e.action),
            csv_field(&e.object),
            e.outcome.as_str().to_string(),
            csv_field(&e.detail),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_824_000_000), "2026-11-28 00:00:00 UTC");
        assert_eq!(format_time(951_782_400_000 + 3_661_000), "2000-02-29 01:01:01 UTC");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let e = AuditEntry {
            id: 1,
            at_ms: 5,
            actor: "tom".into(),
            team: Some("team-a".into()),
            action: "member.add".into(),
            object: "alice, \"the\" scientist".into(),
            outcome: Outcome::Refused,
            detail: "line1\nline2".into(),
        };
        let csv = to_csv(&[e]);
        assert_eq!(
            csv,
            "time_ms,actor,team,action,object,outcome,detail\n5,tom,team-a,member.add,\"alice, \"\"the\"\" scientist\",refused,\"line1\nline2\"\n"
        );
    }

    #[test]
    fn csv_formulas_are_neutralised() {
        assert_eq!(csv_field("=HYPERLINK(\"http://evil.example\",\"x\")"), "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\"");
        assert_eq!(csv_field("+1+1"), "'+1+1");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\t=1"), "'\t=1");
        assert_eq!(csv_field("\r=1"), "\"'\r=1\"");
        assert_eq!(csv_field("=1,2"), "\"'=1,2\"");
        assert_eq!(csv_field("team-a"), "team-a", "only the first character counts");
        let e = AuditEntry {
            id: 1,
            at_ms: 5,
            actor: "=cmd|' /C calc'!A0".into(),
            team: None,
            action: "notebook.create".into(),
            object: "@x".into(),
            outcome: Outcome::Failed,
            detail: "-".into(),
        };
        assert_eq!(to_csv(&[e]).lines().nth(1), Some("5,'=cmd|' /C calc'!A0,,notebook.create,'@x,failed,'-"));
    }
}

use crate::components::error_view::ErrorView;
use crate::components::field::Field;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The audit trail of one team (its admins, platform admins) or of all
/// teams (platform admins).
#[server(endpoint = "audit")]
pub async fn get_audit(filter: AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    server::may_read(&client, filter.team.as_deref()).await?;
    let filter = AuditFilter { limit: filter.limit.clamp(1, 1000), ..filter };
    state.db.audit_list(&filter).await.map_err(AppError::internal)
}

pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[component]
pub fn TeamAuditPage() -> impl IntoView {
    let params = use_params_map();
    let team = Signal::derive(move || params.read().get("team"));
    view! {
        <Title text="Audit"/>
        <crate::teams::TeamTabs/>
        <AuditTrail team=team/>
    }
}

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    view! {
        <Title text="Audit"/>
        <h1 class="page-title">"Platform"</h1>
        <crate::admin::AdminTabs/>
        <AuditTrail team=Signal::derive(|| None)/>
    }
}

#[component]
fn AuditTrail(team: Signal<Option<String>>) -> impl IntoView {
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let since = RwSignal::new(String::new());
    let filter = move || AuditFilter {
        team: team.get(),
        actor: Some(actor.get().trim().to_string()).filter(|s| !s.is_empty()),
        action: Some(action.get()).filter(|s| !s.is_empty()),
        since_ms: since.get().parse::<i64>().ok().map(|hours| now_ms_client() - hours * 3_600_000),
        until_ms: None,
        limit: 500,
    };
    let entries = Resource::new(filter, get_audit);
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
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            entries.await.is_ok().then(|| view! {
                                <a class="btn-quiet" href=csv_href data-testid="audit-csv" rel="external" download="audit.csv">"Export CSV"</a>
                            })
                        })}
                    </Transition>
                </div>
            </div>
        </section>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="audit-empty">"Nothing recorded yet."</p> }.into_any(),
                    Ok(list) => view! { <AuditTable entries=list/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Transition>
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
