//! Reading the trail: the server function behind the audit pages, and how
//! an entry reads (its time, its CSV row).

#[cfg(feature = "ssr")]
use super::server::{Actor, may_read};
use crate::error::AppError;
use crate::model::audit::{AuditEntry, AuditFilter};
use leptos::prelude::*;

/// The audit trail of one team (its admins, platform admins) or of all
/// teams (platform admins).
#[server(endpoint = "audit")]
pub async fn get_audit(filter: AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    let me = Actor::current().await?;
    may_read(&me.client, filter.team.as_deref()).await?;
    let filter = AuditFilter { limit: filter.limit.clamp(1, 1000), ..filter };
    me.state.db.audit_list(&filter).await.map_err(AppError::internal)
}

/// A time as the trail shows it: the UTC calendar date, to the second.
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
    use crate::model::audit::Outcome;

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
