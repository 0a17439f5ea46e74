//! Who the signed-in person is, as the portal understands it: a username,
//! the groups the identity provider vouched for, and the personas and teams
//! those groups map to. The mapping is configuration (see [`IdentityMapping`]);
//! Kubernetes RBAC still decides what the person may actually do.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The personas Atrium serves; each has its own pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Persona {
    DataScientist,
    DataEngineer,
    MlEngineer,
    TeamAdmin,
    PlatformAdmin,
}

impl Persona {
    pub const ALL: [Persona; 5] = [
        Persona::DataScientist,
        Persona::DataEngineer,
        Persona::MlEngineer,
        Persona::TeamAdmin,
        Persona::PlatformAdmin,
    ];

    /// The ClusterRole that grants this persona (see `deploy/chart/atrium/templates/rbac/`).
    pub fn cluster_role(self) -> &'static str {
        match self {
            Persona::DataScientist => "atrium-data-scientist",
            Persona::DataEngineer => "atrium-data-engineer",
            Persona::MlEngineer => "atrium-ml-engineer",
            Persona::TeamAdmin => "atrium-team-admin",
            Persona::PlatformAdmin => "atrium-platform-admin",
        }
    }

    pub fn from_cluster_role(role: &str) -> Option<Persona> {
        Persona::ALL.into_iter().find(|p| p.cluster_role() == role)
    }

    /// Personas a team admin can grant inside a team.
    pub const TEAM: [Persona; 4] = [Persona::DataScientist, Persona::DataEngineer, Persona::MlEngineer, Persona::TeamAdmin];

    /// The short name used in object names and forms.
    pub fn slug(self) -> &'static str {
        match self {
            Persona::DataScientist => "data-scientist",
            Persona::DataEngineer => "data-engineer",
            Persona::MlEngineer => "ml-engineer",
            Persona::TeamAdmin => "team-admin",
            Persona::PlatformAdmin => "platform-admin",
        }
    }

    pub fn from_slug(s: &str) -> Option<Persona> {
        Persona::ALL.into_iter().find(|p| p.slug() == s)
    }

    /// The words a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Persona::DataScientist => "Data scientist",
            Persona::DataEngineer => "Data engineer",
            Persona::MlEngineer => "ML engineer",
            Persona::TeamAdmin => "Team admin",
            Persona::PlatformAdmin => "Platform admin",
        }
    }
}

/// A group pattern such as `{team}-data-scientists` and the persona it grants
/// in the team named by `{team}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamGroupPattern {
    pub pattern: String,
    pub persona: Persona,
}

/// How identity-provider groups become personas and teams.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityMapping {
    /// Groups whose members are platform admins.
    pub platform_admin_groups: Vec<String>,
    /// Patterns tried in order on every group; the first match wins.
    pub team_group_patterns: Vec<TeamGroupPattern>,
}

impl Default for IdentityMapping {
    fn default() -> Self {
        let p = |pattern: &str, persona| TeamGroupPattern { pattern: pattern.into(), persona };
        IdentityMapping {
            platform_admin_groups: vec!["platform-admins".into()],
            team_group_patterns: vec![
                p("{team}-data-scientists", Persona::DataScientist),
                p("{team}-data-engineers", Persona::DataEngineer),
                p("{team}-ml-engineers", Persona::MlEngineer),
                p("{team}-admins", Persona::TeamAdmin),
            ],
        }
    }
}

/// Personas per team and platform-wide, derived from groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memberships {
    pub platform_admin: bool,
    /// Team name → personas in that team, sorted.
    pub teams: BTreeMap<String, Vec<Persona>>,
}

impl Memberships {
    /// Every persona the person holds anywhere, sorted and without repeats.
    pub fn personas(&self) -> Vec<Persona> {
        let mut all: Vec<Persona> = self.teams.values().flatten().copied().collect();
        if self.platform_admin {
            all.push(Persona::PlatformAdmin);
        }
        all.sort();
        all.dedup();
        all
    }
}

impl IdentityMapping {
    /// Maps the groups of a verified token to memberships. Groups that match
    /// nothing are ignored; a team name must be a valid namespace name.
    pub fn memberships(&self, groups: &[String]) -> Memberships {
        let mut out = Memberships::default();
        for group in groups {
            let group = group.trim_start_matches('/');
            if self.platform_admin_groups.iter().any(|g| g == group) {
                out.platform_admin = true;
                continue;
            }
            if let Some((team, persona)) = self.team_persona(group) {
                let personas = out.teams.entry(team).or_default();
                if !personas.contains(&persona) {
                    personas.push(persona);
                    personas.sort();
                }
            }
        }
        out
    }

    fn team_persona(&self, group: &str) -> Option<(String, Persona)> {
        self.team_group_patterns.iter().find_map(|p| {
            let (prefix, suffix) = p.pattern.split_once("{team}")?;
            let team = group.strip_prefix(prefix)?.strip_suffix(suffix)?;
            is_dns1123_label(team).then(|| (team.to_string(), p.persona))
        })
    }
}

/// True when `s` is a valid Kubernetes namespace name (RFC 1123 label).
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Kubernetes reserves `system:` names; the portal never impersonates them,
/// whatever a token says.
pub fn is_impersonable(name: &str) -> bool {
    !name.is_empty() && !name.starts_with("system:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn team_groups_map_to_personas_per_team() {
        let m = IdentityMapping::default()
            .memberships(&groups(&["team-a-data-scientists", "team-b-ml-engineers", "team-a-admins"]));
        assert!(!m.platform_admin);
        assert_eq!(m.teams["team-a"], vec![Persona::DataScientist, Persona::TeamAdmin]);
        assert_eq!(m.teams["team-b"], vec![Persona::MlEngineer]);
        assert_eq!(
            m.personas(),
            vec![Persona::DataScientist, Persona::MlEngineer, Persona::TeamAdmin]
        );
    }

    #[test]
    fn platform_admin_group_and_full_paths() {
        let m = IdentityMapping::default().memberships(&groups(&["/platform-admins", "/team-a-data-engineers"]));
        assert!(m.platform_admin);
        assert_eq!(m.teams["team-a"], vec![Persona::DataEngineer]);
        assert_eq!(m.personas(), vec![Persona::DataEngineer, Persona::PlatformAdmin]);
    }

    #[test]
    fn unknown_and_invalid_groups_are_ignored() {
        let m = IdentityMapping::default().memberships(&groups(&[
            "offline_access",
            "Team_A-data-scientists",
            "-data-scientists",
            "team-a-data-scientists-extra",
        ]));
        assert_eq!(m, Memberships::default());
    }

    #[test]
    fn first_matching_pattern_wins() {
        // "x-ml-engineers" could be team "x-ml" with pattern "{team}-engineers"
        // if that came first; order is the documented tie-breaker.
        let mapping = IdentityMapping {
            platform_admin_groups: vec![],
            team_group_patterns: vec![
                TeamGroupPattern { pattern: "{team}-ml-engineers".into(), persona: Persona::MlEngineer },
                TeamGroupPattern { pattern: "{team}-engineers".into(), persona: Persona::DataEngineer },
            ],
        };
        let m = mapping.memberships(&groups(&["x-ml-engineers"]));
        assert_eq!(m.teams["x"], vec![Persona::MlEngineer]);
    }

    #[test]
    fn prefix_patterns_work_too() {
        let mapping = IdentityMapping {
            platform_admin_groups: vec!["ops".into()],
            team_group_patterns: vec![TeamGroupPattern {
                pattern: "atrium:{team}:admin".into(),
                persona: Persona::TeamAdmin,
            }],
        };
        let m = mapping.memberships(&groups(&["atrium:risk:admin", "ops"]));
        assert!(m.platform_admin);
        assert_eq!(m.teams["risk"], vec![Persona::TeamAdmin]);
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns1123_label("team-a"));
        assert!(is_dns1123_label("a1"));
        assert!(!is_dns1123_label("Team"));
        assert!(!is_dns1123_label("a-"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
    }

    #[test]
    fn system_names_are_never_impersonated() {
        assert!(!is_impersonable("system:masters"));
        assert!(!is_impersonable("system:admin"));
        assert!(!is_impersonable(""));
        assert!(is_impersonable("alice"));
    }
}
