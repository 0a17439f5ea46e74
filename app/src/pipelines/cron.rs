//! Cron expressions as Argo's controller reads them: robfig/cron's standard
//! parser (five fields, `?`, names, ranges and steps, the `@hourly`-style
//! descriptors and `@every <duration>`), with its day rule: when day of
//! month and day of week are both restricted, either one matching is
//! enough. The portal checks a schedule with this before saving it (Argo
//! itself only marks a bad one with a condition later) and shows the next
//! run times in the schedule's time zone.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, ZonedDateTime as Zoned};

/// The shortest `@every` interval accepted (Argo takes any; a pipeline
/// started every second would swamp the team's quota and the runs list).
pub const MIN_EVERY_SECONDS: u64 = 10;
/// How far ahead a run time is looked for (robfig gives up after 5 years).
const YEARS_AHEAD: i16 = 5;
const STAR: u64 = 1 << 63;

#[derive(Clone, Debug, PartialEq)]
pub enum Cron {
    Fields { minute: u64, hour: u64, dom: u64, month: u64, dow: u64 },
    Every { seconds: u64 },
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
    what: &'static str,
}

const MINUTE: Bounds = Bounds { min: 0, max: 59, names: &[], what: "minute" };
const HOUR: Bounds = Bounds { min: 0, max: 23, names: &[], what: "hour" };
const DOM: Bounds = Bounds { min: 1, max: 31, names: &[], what: "day of month" };
const MONTH: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    what: "month",
};
const DOW: Bounds = Bounds { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"], what: "day of week" };

/// Parses `expr`, or says in words what is wrong with it.
pub fn parse(expr: &str) -> Result<Cron, String> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err("Give a cron expression, such as “0 6 * * *” (every day at 06:00).".into());
    }
    if expr.starts_with("TZ=") || expr.starts_with("CRON_TZ=") {
        return Err("Give the time zone in its own field, not in the expression.".into());
    }
    if let Some(rest) = expr.strip_prefix('@') {
        let fields = match rest.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            other => {
                let Some(d) = other.strip_prefix("every ") else {
                    return Err(format!("“{expr}” is not a schedule: use five fields, @hourly, @daily, @weekly, @monthly, @yearly or @every <interval>."));
                };
                let seconds = duration_seconds(d.trim()).ok_or_else(|| format!("“{}” is not an interval: write it like 90s, 15m or 1h30m.", d.trim()))?;
                if seconds < MIN_EVERY_SECONDS {
                    return Err(format!("Runs at most every {MIN_EVERY_SECONDS} seconds; “{}” is shorter.", d.trim()));
                }
                return Ok(Cron::Every { seconds });
            }
        };
        return parse(fields);
    }
    let parts: Vec<&str> = expr.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "A cron expression has five fields (minute, hour, day of month, month, day of week); “{expr}” has {}.",
            parts.len()
        ));
    }
    Ok(Cron::Fields {
        minute: field(parts[0], &MINUTE)?,
        hour: field(parts[1], &HOUR)?,
        dom: field(parts[2], &DOM)?,
        month: field(parts[3], &MONTH)?,
        dow: field(parts[4], &DOW)?,
    })
}

/// Go's duration syntax as `@every` takes it (whole seconds; h, m, s).
fn duration_seconds(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (mut total, mut digits) = (0u64, String::new());
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c),
            'h' | 'm' | 's' if !digits.is_empty() => {
                let n: u64 = digits.parse().ok()?;
                total = total.checked_add(n.checked_mul(match c { 'h' => 3600, 'm' => 60, _ => 1 })?)?;
                digits.clear();
            }
            _ => return None,
        }
    }
    digits.is_empty().then_some(total)
}

fn field(text: &str, b: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    for part in text.split(',') {
        bits |= range(part, b).map_err(|why| format!("The {} field “{text}”: {why}", b.what))?;
    }
    Ok(bits)
}

fn range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let (span, step) = match expr.split_once('/') {
        None => (expr, None),
        Some((span, step)) => {
            if step.contains('/') {
                return Err("more than one “/”.".into());
            }
            let n: u32 = step.parse().map_err(|_| format!("the step “{step}” is not a number."))?;
            if n == 0 {
                return Err("a step must be 1 or more.".into());
            }
            (span, Some(n))
        }
    };
    let (mut start, mut end, mut extra) = (b.min, b.max, 0);
    if span == "*" || span == "?" {
        extra = STAR;
    } else {
        let mut ends = span.split('-');
        start = value(ends.next().unwrap_or_default(), b)?;
        end = match (ends.next(), ends.next()) {
            (None, _) => match step {
                // "N/step" means from N to the end.
                Some(_) => b.max,
                None => start,
            },
            (Some(e), None) => value(e, b)?,
            (Some(_), Some(_)) => return Err("more than one “-”.".into()),
        };
    }
    let step = step.unwrap_or(1);
    if step > 1 {
        extra = 0;
    }
    if start < b.min || end > b.max {
        return Err(format!("values go from {} to {}.", b.min, b.max));
    }
    if start > end {
        return Err(format!("the range starts at {start}, after its end {end}."));
    }
    let bits = (start..=end).step_by(step as usize).fold(0u64, |acc, v| acc | 1 << v);
    Ok(bits | extra)
}

fn value(s: &str, b: &Bounds) -> Result<u32, String> {
    if let Some(i) = b.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + b.min);
    }
    s.parse().map_err(|_| {
        if s.is_empty() { "a value is missing.".to_string() } else { format!("“{s}” is not a number{}.", if b.names.is_empty() { "" } else { " or a name" }) }
    })
}

/// The time zone named `name` (IANA, as Go's `time.LoadLocation` reads it).
pub fn zone(name: &str) -> Result<TimeZone, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Give a time zone, such as UTC or Europe/Berlin.".into());
    }
    TimeZone::get(name).map_err(|_| format!("“{name}” is not a time zone; use an IANA name such as UTC, Europe/Berlin or America/New_York."))
}

fn has(bits: u64, v: i8) -> bool {
    bits & (1 << v) != 0
}

impl Cron {
    fn day_matches(dom: u64, dow: u64, t: &DateTime) -> bool {
        let d = has(dom, t.day());
        let w = has(dow, t.weekday().to_sunday_zero_offset());
        if dom & STAR != 0 || dow & STAR != 0 { d && w } else { d || w }
    }

    /// The next `n` times after `after` when this schedule fires in `tz`.
    /// An `@every` schedule counts from when the controller takes it up, so
    /// its times are counted from `after`.
    pub fn next(&self, after: Timestamp, tz: &TimeZone, n: usize) -> Vec<Zoned> {
        let mut out = Vec::with_capacity(n);
        match *self {
            Cron::Every { seconds } => {
                for k in 1..=n as i64 {
                    if let Ok(t) = after.checked_add((seconds as i64 * k).seconds()) {
                        out.push(t.to_zoned_datetime(tz.clone()));
                    }
                }
            }
            Cron::Fields { minute, hour, dom, month, dow } => {
                let mut from = after;
                while out.len() < n {
                    let Some(t) = Self::next_one(from, tz, minute, hour, dom, month, dow) else { break };
                    from = t.timestamp();
                    out.push(t);
                }
            }
        }
        out
    }

    fn next_one(after: Timestamp, tz: &TimeZone, minute: u64, hour: u64, dom: u64, month: u64, dow: u64) -> Option<Zoned> {
        let start = after.to_zoned_datetime(tz.clone()).datetime();
        let limit = start.year().checked_add(YEARS_AHEAD)?;
        // The next whole minute after `after`.
        let mut t = start.with().second(0).subsec_nanosecond(0).build().ok()?.checked_add(1.minute()).ok()?;
        while t.year() <= limit {
            if !has(month, t.month()) {
                t = t.first_of_month().checked_add(1.month()).ok()?.with().hour(0).minute(0).build().ok()?;
                continue;
            }
            if !Self::day_matches(dom, dow, &t) {
                t = t.date().checked_add(1.day()).ok()?.to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if !has(hour, t.hour()) {
                t = t.with().minute(0).build().ok()?.checked_add(1.hour()).ok()?;
                continue;
            }
            if !has(minute, t.minute()) {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            // A time a clock change skipped runs just after it; one it repeats runs once.
            let z = t.to_zoned_datetime(tz.clone()).ok()?;
            if z.timestamp() > after {
                return Some(z);
            }
            t = t.checked_add(1.minute()).ok()?;
        }
        None
    }
}

/// The next `n` run times of `expr` in time zone `zone_name`, in words, or
/// why the schedule is not valid (including one that never fires, such as
/// the 30th of February).
pub fn preview(expr: &str, zone_name: &str, now: Timestamp, n: usize) -> Result<Vec<String>, String> {
    let cron = parse(expr)?;
    let tz = zone(zone_name)?;
    let times = cron.next(now, &tz, n);
    if times.is_empty() {
        return Err(format!("“{}” never fires: no such date comes in the next {YEARS_AHEAD} years.", expr.trim()));
    }
    Ok(times.iter().map(|z| z.strftime("%a %Y-%m-%d %H:%M %Z").to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn times(expr: &str, zone_name: &str, now: &str) -> Vec<String> {
        preview(expr, zone_name, at(now), 5).unwrap()
    }

    #[test]
    fn every_day_at_six_in_berlin() {
        let got = times("0 6 * * *", "Europe/Berlin", "2026-11-30T10:00:00Z");
        assert_eq!(got[0], "Tue 2026-12-01 06:00 CET");
        assert_eq!(got[4], "Sat 2026-12-05 06:00 CET");
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        let got = times("*/20 9-10 * * MON-FRI", "UTC", "2026-11-27T10:30:00Z");
        // Friday 10:40, then Monday morning.
        assert_eq!(got, ["Fri 2026-11-27 10:40 UTC", "Mon 2026-11-30 09:00 UTC", "Mon 2026-11-30 09:20 UTC", "Mon 2026-11-30 09:40 UTC", "Mon 2026-11-30 10:00 UTC"]);
        let got = times("15 0 1,15 jan,jul ?", "UTC", "2026-11-30T00:00:00Z");
        assert_eq!(got[0], "Fri 2027-01-01 00:15 UTC");
        assert_eq!(got[1], "Fri 2027-01-15 00:15 UTC");
        assert_eq!(got[2], "Thu 2027-07-01 00:15 UTC");
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_given() {
        // The 1st of the month or any Sunday, as cron (and Argo) read it.
        let got = times("0 0 1 * 0", "UTC", "2026-11-27T00:00:00Z");
        assert_eq!(got[..3], ["Sun 2026-11-29 00:00 UTC", "Tue 2026-12-01 00:00 UTC", "Sun 2026-12-06 00:00 UTC"]);
    }

    #[test]
    fn descriptors_and_intervals() {
        assert_eq!(parse("@daily").unwrap(), parse("0 0 * * *").unwrap());
        assert_eq!(parse("@every 1h30m").unwrap(), Cron::Every { seconds: 5400 });
        let got = times("@every 15m", "UTC", "2026-11-30T10:00:00Z");
        assert_eq!(got[0], "Mon 2026-11-30 10:15 UTC");
        assert!(parse("@every 5s").unwrap_err().contains("at most every 10 seconds"));
        assert!(parse("@every soon").unwrap_err().contains("not an interval"));
    }

    #[test]
    fn clock_changes() {
        // 02:30 does not exist in Berlin on 2027-03-28: that day it runs just after the change.
        let got = times("30 2 * * *", "Europe/Berlin", "2027-03-26T12:00:00Z");
        assert_eq!(got[..3], ["Sat 2027-03-27 02:30 CET", "Sun 2027-03-28 03:30 CEST", "Mon 2027-03-29 02:30 CEST"]);
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |e: &str| parse(e).unwrap_err();
        assert!(bad("0 6 * *").contains("has 4"));
        assert!(bad("60 * * * *").contains("minute field “60”: values go from 0 to 59"));
        assert!(bad("0 6 * * 7").contains("day of week"));
        assert!(bad("0 6 * foo *").contains("“foo” is not a number or a name"));
        assert!(bad("0 10-6 * * *").contains("starts at 10, after its end 6"));
        assert!(bad("*/0 * * * *").contains("step must be 1 or more"));
        assert!(bad("CRON_TZ=UTC 0 6 * * *").contains("own field"));
        assert!(bad("@fortnightly").contains("is not a schedule"));
        assert!(preview("0 0 30 2 *", "UTC", at("2026-11-30T00:00:00Z"), 5).unwrap_err().contains("never fires"));
        assert!(preview("0 6 * * *", "Mars/Olympus", at("2026-11-30T00:00:00Z"), 5).unwrap_err().contains("not a time zone"));
    }
}
