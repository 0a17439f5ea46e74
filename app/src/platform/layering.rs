//! `platform/` sits below every area: it imports no page, area or
//! component, so an area can change without touching the adapters. This
//! reads the sources, so a new import from above fails here, not in review.

use std::path::Path;

const ABOVE: [&str; 9] = ["teams", "notebooks", "admin", "audit", "home", "models", "shell", "components", "routes"];

/// The modules above `platform/` that `source` names through `crate::`,
/// including inside `use crate::{…}` groups.
fn names_above(source: &str) -> Vec<&'static str> {
    let mut found = vec![];
    for (at, _) in source.match_indices("crate::") {
        let rest = &source[at + "crate::".len()..];
        let heads: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => top_level_items(group),
            None => vec![rest],
        };
        for head in heads {
            let name: String = head.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if let Some(area) = ABOVE.iter().find(|a| **a == name) {
                found.push(*area);
            }
        }
    }
    found
}

/// The items of a `{…}` group (after its `{`), nested groups skipped.
fn top_level_items(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (vec![], 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("platform dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn platform_imports_no_area_and_no_component() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/platform");
    let mut files = vec![];
    sources(&dir, &mut files);
    // This file names the modules it looks for.
    files.retain(|f| !f.ends_with("layering.rs"));
    assert!(files.len() > 5, "found the platform sources in {}", dir.display());
    let breaks: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let source = std::fs::read_to_string(f).expect("readable source");
            let name = f.strip_prefix(&dir).unwrap_or(f).display().to_string();
            names_above(&source).into_iter().map(move |area| format!("{name} uses crate::{area}"))
        })
        .collect();
    assert!(breaks.is_empty(), "platform/ reaches above itself:\n{}", breaks.join("\n"));
}

#[test]
fn paths_and_groups_are_both_seen() {
    assert_eq!(names_above("use crate::teams::TeamSummary;"), ["teams"]);
    assert_eq!(names_above("x(crate::components::quota_bar::label(r))"), ["components"]);
    assert_eq!(names_above("use crate::{error::AppError, audit::{AuditEntry, Outcome}};"), ["audit"]);
    assert_eq!(names_above("use crate::{model, access::Rule, teamsx};"), Vec::<&str>::new());
    assert_eq!(names_above("use crate::auth::routes; use crate::models;"), ["models"]);
}
