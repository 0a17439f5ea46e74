//! Asks Kubernetes, as the user, which areas of the portal they may use, and
//! keeps the answer briefly so navigation does not cost API calls per page.

use super::kube::{UserClient, explain};
use crate::access::{NavArea, Rule, allows};
use crate::error::AppResult;
use crate::teams::TeamSummary;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SelfSubjectRulesReview,
    SelfSubjectRulesReviewSpec,
};
use kube::api::{Api, PostParams};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Answers kept per session for a short time.
struct TtlCache<T> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, T)>>,
}

impl<T: Clone> TtlCache<T> {
    fn new(ttl: Duration) -> Self {
        TtlCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    async fn get_or_try(&self, key: &str, fetch: impl Future<Output = AppResult<T>>) -> AppResult<T> {
        if let Some(hit) = self.get(key) {
            return Ok(hit);
        }
        let value = fetch.await?;
        let mut entries = self.entries.lock().expect("session cache");
        if entries.len() > 10_000 {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        entries.insert(key.to_owned(), (Instant::now(), value.clone()));
        Ok(value)
    }

    fn get(&self, key: &str) -> Option<T> {
        let entries = self.entries.lock().expect("session cache");
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    fn clear(&self) {
        self.entries.lock().expect("session cache").clear();
    }
}

/// What the frame of every page needs from Kubernetes, per session: the
/// areas a person may use and the teams they see.
pub struct AccessCache {
    nav: TtlCache<Vec<NavArea>>,
    teams: TtlCache<Vec<TeamSummary>>,
    decisions: TtlCache<bool>,
}

/// One permission asked of Kubernetes (an access review as the person).
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    pub group: &'a str,
    pub resource: &'a str,
    pub verb: &'a str,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl AccessCache {
    pub fn new(ttl: Duration) -> Self {
        AccessCache { nav: TtlCache::new(ttl), teams: TtlCache::new(ttl), decisions: TtlCache::new(ttl) }
    }

    /// The areas `client`'s user may use in any of `namespaces`; `key`
    /// identifies the session the answer is cached for.
    pub async fn nav_areas(&self, client: &UserClient, key: &str, namespaces: &[String]) -> AppResult<Vec<NavArea>> {
        self.nav.get_or_try(key, ask(client, namespaces)).await
    }

    /// The session's teams, fetched by `fetch` when not known.
    pub async fn teams(&self, key: &str, fetch: impl Future<Output = AppResult<Vec<TeamSummary>>>) -> AppResult<Vec<TeamSummary>> {
        self.teams.get_or_try(key, fetch).await
    }

    /// Whether the session's person may do `ask`, reusing a recent answer.
    pub async fn may(&self, client: &UserClient, key: &str, ask: Ask<'_>) -> AppResult<bool> {
        let k = format!(
            "{key}|{}|{}|{}|{}|{}",
            ask.group,
            ask.resource,
            ask.verb,
            ask.namespace.unwrap_or(""),
            ask.name.unwrap_or("")
        );
        self.decisions.get_or_try(&k, review(client, ask)).await
    }

    /// Forgets every answer: after a change to who may do what, or to teams.
    /// NB: with several replicas, the others notice within the cache's TTL.
    pub fn forget_all(&self) {
        self.nav.clear();
        self.teams.clear();
        self.decisions.clear();
    }
}

async fn ask(client: &UserClient, namespaces: &[String]) -> AppResult<Vec<NavArea>> {
    let reviews = namespaces.iter().map(|ns| rules_in(client, ns));
    let (rules, admin) = futures::join!(futures::future::try_join_all(reviews), may_create_namespaces(client));
    let rules: Vec<Rule> = rules?.into_iter().flatten().collect();
    let mut areas: Vec<NavArea> = NavArea::ALL
        .into_iter()
        .filter(|a| *a != NavArea::Admin && allows(&rules, &a.permission()))
        .collect();
    if admin? {
        areas.push(NavArea::Admin);
    }
    Ok(areas)
}

async fn rules_in(client: &UserClient, namespace: &str) -> AppResult<Vec<Rule>> {
    let review = SelfSubjectRulesReview {
        spec: SelfSubjectRulesReviewSpec { namespace: Some(namespace.to_owned()) },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectRulesReview>::all(client.client())
        .create(&PostParams::default(), &review)
        .await
        .map_err(|e| explain(e, "your permissions"))?;
    let rules = answer.status.map(|s| s.resource_rules).unwrap_or_default();
    Ok(rules
        .into_iter()
        .map(|r| Rule {
            verbs: r.verbs,
            groups: r.api_groups.unwrap_or_default(),
            resources: r.resources.unwrap_or_default(),
            named_only: r.resource_names.is_some_and(|n| !n.is_empty()),
        })
        .collect())
}

/// One access review, as the user.
pub async fn may(client: &UserClient, group: &str, resource: &str, verb: &str, namespace: Option<&str>) -> AppResult<bool> {
    review(client, Ask { group, resource, verb, namespace, name: None }).await
}

async fn review(client: &UserClient, ask: Ask<'_>) -> AppResult<bool> {
    // "notebooks/connect" asks for a subresource, as RBAC rules name it.
    let (resource, subresource) = match ask.resource.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (ask.resource, None),
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(ask.group.to_owned()),
                resource: Some(resource.to_owned()),
                subresource: subresource.map(str::to_owned),
                verb: Some(ask.verb.to_owned()),
                namespace: ask.namespace.map(str::to_owned),
                name: ask.name.map(str::to_owned),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.client())
        .create(&PostParams::default(), &review)
        .await
        .map_err(|e| explain(e, "your permissions"))?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

async fn may_create_namespaces(client: &UserClient) -> AppResult<bool> {
    let p = NavArea::Admin.permission();
    may(client, p.group, p.resource, p.verb, None).await
}
