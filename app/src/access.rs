//! What the navigation offers. Each area stands for one permission, asked of
//! Kubernetes as the user (`SelfSubjectRulesReview`), never assumed from
//! personas: RBAC stays the only judge.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NavArea {
    Notebooks,
    Experiments,
    Pipelines,
    Models,
    Team,
    Admin,
}

/// The permission that opens an area: (API group, resource, verb).
pub struct Permission {
    pub group: &'static str,
    pub resource: &'static str,
    pub verb: &'static str,
}

impl NavArea {
    pub const ALL: [NavArea; 6] = [
        NavArea::Notebooks,
        NavArea::Experiments,
        NavArea::Pipelines,
        NavArea::Models,
        NavArea::Team,
        NavArea::Admin,
    ];

    pub fn label(self) -> &'static str {
        match self {
            NavArea::Notebooks => "Notebooks",
            NavArea::Experiments => "Experiments",
            NavArea::Pipelines => "Pipelines",
            NavArea::Models => "Models",
            NavArea::Team => "Team",
            NavArea::Admin => "Admin",
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            NavArea::Notebooks => "/notebooks",
            NavArea::Experiments => "/experiments",
            NavArea::Pipelines => "/pipelines",
            NavArea::Models => "/models",
            NavArea::Team => "/teams",
            NavArea::Admin => "/admin",
        }
    }

    pub fn permission(self) -> Permission {
        let p = |group, resource, verb| Permission { group, resource, verb };
        match self {
            NavArea::Notebooks => p("apps", "statefulsets", "create"),
            NavArea::Experiments => p("mlflow.kubeflow.org", "experiments", "create"),
            NavArea::Pipelines => p("argoproj.io", "workflows", "create"),
            NavArea::Models => p("serving.kserve.io", "inferenceservices", "create"),
            NavArea::Team => p("", "resourcequotas", "update"),
            NavArea::Admin => p("", "namespaces", "create"),
        }
    }
}

/// One rule of a rules review, reduced to what matching needs.
#[derive(Clone, Debug, Default)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    /// A rule limited to named objects does not open a whole area.
    pub named_only: bool,
}

fn covers(list: &[String], wanted: &str) -> bool {
    list.iter().any(|x| x == "*" || x == wanted)
}

/// True when some rule grants `perm` on every object of its kind.
pub fn allows(rules: &[Rule], perm: &Permission) -> bool {
    rules.iter().any(|r| {
        !r.named_only && covers(&r.verbs, perm.verb) && covers(&r.groups, perm.group) && covers(&r.resources, perm.resource)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Rule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Rule { verbs: v(verbs), groups: v(groups), resources: v(resources), named_only: false }
    }

    #[test]
    fn exact_and_wildcard_rules() {
        let rules = vec![rule(&["get", "create"], &["apps"], &["statefulsets"])];
        assert!(allows(&rules, &NavArea::Notebooks.permission()));
        assert!(!allows(&rules, &NavArea::Pipelines.permission()));
        let admin = vec![rule(&["*"], &["*"], &["*"])];
        assert!(NavArea::ALL.iter().all(|a| allows(&admin, &a.permission())));
    }

    #[test]
    fn verb_group_and_resource_must_all_match() {
        let rules = vec![rule(&["get"], &["apps"], &["statefulsets"]), rule(&["create"], &[""], &["statefulsets"])];
        assert!(!allows(&rules, &NavArea::Notebooks.permission()));
    }

    fn rule_free_subresource() -> Permission {
        Permission { group: "", resource: "services/proxy", verb: "get" }
    }

    #[test]
    fn subresources_are_distinct_and_named_rules_do_not_count() {
        let rules = vec![rule(&["get"], &[""], &["services"])];
        assert!(!allows(&rules, &rule_free_subresource()));
        // Reading experiments is not enough to be offered the area in the navigation.
        let readers = vec![rule(&["get", "list"], &["mlflow.kubeflow.org"], &["experiments"])];
        assert!(!allows(&readers, &NavArea::Experiments.permission()));
        let mut named = rule(&["create"], &["apps"], &["statefulsets"]);
        named.named_only = true;
        assert!(!allows(&[named], &NavArea::Notebooks.permission()));
    }
}
