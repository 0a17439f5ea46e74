//! Kubernetes resource quantities ("500m", "64Gi", "2") as numbers, for
//! showing used-versus-limit. Parsing is strict: anything unparsable is None.

/// The value of a quantity in base units (cores, bytes, counts).
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let value: f64 = num.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?.parse::<i32>().ok()?;
            10f64.powi(exp)
        }
    };
    Some(value * factor)
}

/// Whether `q` is written as a quantity (digits, one optional fraction,
/// one suffix of [`parse`]'s), without working out its value: for checks in
/// the browser that need no float parsing (it would weigh on every page's
/// download, decision 0013).
pub fn well_formed(q: &str) -> bool {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let mut parts = num.split('.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    parts.next().is_none()
        && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()))
        && fraction.is_none_or(|f| !f.is_empty())
        && ["", "m", "k", "M", "G", "T", "P", "Ki", "Mi", "Gi", "Ti", "Pi"].contains(&suffix)
}

/// used / hard, clamped to 0..=1; None when either is unparsable or hard is 0.
pub fn fraction(used: &str, hard: &str) -> Option<f64> {
    let (u, h) = (parse(used)?, parse(hard)?);
    (h > 0.0).then(|| (u / h).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_quantities_are_those_parse_reads() {
        for q in ["500m", "2", "1.5", "0.5Gi", "64Gi", ".5"] {
            assert!(well_formed(q) && parse(q).is_some(), "{q}");
        }
        for q in ["lots", "", "1..2", "1.", "Gi", "2 Gi", "-1", "1e3"] {
            assert!(!well_formed(q), "{q}");
        }
    }

    #[test]
    fn decimal_binary_and_milli() {
        assert_eq!(parse("2"), Some(2.0));
        assert_eq!(parse("500m"), Some(0.5));
        assert_eq!(parse("1Gi"), Some(1073741824.0));
        assert_eq!(parse("1.5k"), Some(1500.0));
        assert_eq!(parse("1e3"), Some(1000.0));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "2 cores", "-1", "10Qi", "Gi", "1..2"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fractions() {
        assert_eq!(fraction("500m", "2"), Some(0.25));
        assert_eq!(fraction("3", "2"), Some(1.0));
        assert_eq!(fraction("1", "0"), None);
        assert_eq!(fraction("x", "2"), None);
    }
}
