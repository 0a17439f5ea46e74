//! Asks Kubernetes, as the user, which areas of the portal they may use, and
//! keeps the answers so navigation does not cost API calls per page: until
//! RBAC changes while the portal's watches on it run (`rbac_watch.rs`),
//! briefly otherwise.

use super::answers::Answers;
pub use super::answers::AccessChange;
use super::kube::{UserClient, explain};
use crate::access::{NavArea, Rule, allows};
use crate::error::AppResult;
use crate::model::team::TeamSummary;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SelfSubjectRulesReview,
    SelfSubjectRulesReviewSpec,
};
use kube::api::{Api, PostParams};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// What the frame of every page needs from Kubernetes, per session: the
/// areas a person may use, the teams they see, and single decisions.
/// Cloning shares the answers.
#[derive(Clone)]
pub struct AccessCache(Arc<Shared>);

struct Shared {
    nav: Answers<Vec<NavArea>>,
    teams: Answers<Vec<TeamSummary>>,
    decisions: Answers<bool>,
    /// How long answers are kept when no watch vouches for them.
    short: Duration,
    /// How long answers are kept while every RBAC watch runs: a safety net
    /// for a change the watches could miss, not the way changes arrive.
    watched: Duration,
    /// RBAC watches by kind, and whether each is in sync.
    watches: Mutex<HashMap<&'static str, bool>>,
    /// Counts changes, so an answer asked before one is not kept after it.
    generation: AtomicU64,
    changes: broadcast::Sender<AccessChange>,
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

impl Ask<'_> {
    /// The namespace whose RBAC decides this ask. NB: for a namespace
    /// itself, a RoleBinding inside it counts too.
    fn scope(&self) -> Option<&str> {
        self.namespace.or(if self.resource == "namespaces" { self.name } else { None })
    }
}

impl AccessCache {
    /// Answers kept for `ttl`, until [`AccessCache::follow_rbac`] watches RBAC.
    pub fn new(ttl: Duration) -> Self {
        Self::with_watched_ttl(ttl, ttl)
    }

    /// Answers kept for `short`, or `watched` while every RBAC watch runs.
    pub fn with_watched_ttl(short: Duration, watched: Duration) -> Self {
        AccessCache(Arc::new(Shared {
            nav: Answers::new(),
            teams: Answers::new(),
            decisions: Answers::new(),
            short,
            watched: watched.max(short),
            watches: Mutex::default(),
            generation: AtomicU64::new(0),
            changes: broadcast::channel(256).0,
        }))
    }

    /// Starts the portal's own watches on RBAC (`client` is its identity):
    /// each change forgets the answers it may touch and is announced to
    /// [`AccessCache::subscribe`]rs.
    pub fn follow_rbac(&self, client: kube::Client) {
        super::rbac_watch::start(self.clone(), client);
    }

    /// How long an answer is good for now.
    pub fn ttl(&self) -> Duration {
        if self.watched() { self.0.watched } else { self.0.short }
    }

    /// Whether RBAC watches run and are all in sync.
    pub fn watched(&self) -> bool {
        let watches = self.0.watches.lock().expect("rbac watches");
        !watches.is_empty() && watches.values().all(|synced| *synced)
    }

    pub(super) fn set_watch(&self, kind: &'static str, synced: bool) {
        let mut watches = self.0.watches.lock().expect("rbac watches");
        if watches.insert(kind, synced) != Some(synced) {
            tracing::info!(kind, synced, "rbac watch");
        }
    }

    /// Changes to RBAC from now on, announced after their answers were
    /// forgotten. NB: a receiver that lags has missed some: treat that as
    /// [`AccessChange::Everywhere`].
    pub fn subscribe(&self) -> broadcast::Receiver<AccessChange> {
        self.0.changes.subscribe()
    }

    /// Forgets the answers `change` may touch, and announces it.
    pub fn forget(&self, change: AccessChange) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.nav.forget(&change, true);
        self.0.teams.forget(&change, true);
        self.0.decisions.forget(&change, false);
        let _ = self.0.changes.send(change);
    }

    /// Forgets every answer: after a change made here to who may do what, or
    /// to teams (the watches tell every replica too).
    pub fn forget_all(&self) {
        self.forget(AccessChange::Everywhere);
    }

    /// The areas `client`'s user may use in any of `namespaces`; `key`
    /// identifies the session the answer is cached for.
    pub async fn nav_areas(&self, client: &UserClient, key: &str, namespaces: &[String]) -> AppResult<Vec<NavArea>> {
        self.get_or_try(&self.0.nav, key, None, ask(client, namespaces)).await
    }

    /// The session's teams, fetched by `fetch` when not known.
    pub async fn teams(&self, key: &str, fetch: impl Future<Output = AppResult<Vec<TeamSummary>>>) -> AppResult<Vec<TeamSummary>> {
        self.get_or_try(&self.0.teams, key, None, fetch).await
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
        self.get_or_try(&self.0.decisions, &k, ask.scope(), review(client, ask)).await
    }

    async fn get_or_try<T: Clone>(
        &self,
        answers: &Answers<T>,
        key: &str,
        namespace: Option<&str>,
        fetch: impl Future<Output = AppResult<T>>,
    ) -> AppResult<T> {
        let ttl = self.ttl();
        if let Some(hit) = answers.get(key, ttl) {
            return Ok(hit);
        }
        let generation = self.0.generation.load(Ordering::SeqCst);
        let value = fetch.await?;
        // Asked across a change: good for this request, not to keep. NB:
        // checked under the answers' lock, which `forget` takes after counting.
        let unchanged = || self.0.generation.load(Ordering::SeqCst) == generation;
        answers.put_if(key, namespace, value.clone(), ttl, unchanged);
        Ok(value)
    }
}

/// Waits for the next change that touches a namespace `touched` accepts
/// (missed changes count); `false` once no more will come. Changes already
/// waiting behind it are taken too, so a burst is asked about once.
pub async fn next_touching(changes: &mut broadcast::Receiver<AccessChange>, touched: impl Fn(&str) -> bool) -> bool {
    use broadcast::error::{RecvError, TryRecvError};
    loop {
        match changes.recv().await {
            Ok(AccessChange::Everywhere) | Err(RecvError::Lagged(_)) => break,
            Ok(AccessChange::Namespace(ns)) if touched(&ns) => break,
            Ok(AccessChange::Namespace(_)) => {}
            Err(RecvError::Closed) => return false,
        }
    }
    while !matches!(changes.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
    true
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

#[cfg(test)]
mod tests {
    use super::*;

    fn teams(name: &str) -> Vec<TeamSummary> {
        vec![TeamSummary { name: name.into(), display_name: name.into() }]
    }

    #[tokio::test]
    async fn an_answer_asked_across_a_change_is_used_but_not_kept() {
        let access = AccessCache::new(Duration::from_secs(30));
        let asked = access.teams("s", async {
            access.forget_all();
            Ok(teams("before"))
        });
        assert_eq!(asked.await.unwrap(), teams("before"));
        assert_eq!(access.teams("s", async { Ok(teams("after")) }).await.unwrap(), teams("after"), "asked again");
        assert_eq!(access.teams("s", async { Ok(teams("later")) }).await.unwrap(), teams("after"), "kept");
    }

    #[test]
    fn answers_are_kept_long_only_while_every_watch_is_in_sync() {
        let (short, long) = (Duration::from_secs(30), Duration::from_secs(600));
        let access = AccessCache::with_watched_ttl(short, long);
        assert_eq!(access.ttl(), short, "no watches");
        access.set_watch("rolebindings", true);
        access.set_watch("clusterroles", false);
        assert_eq!(access.ttl(), short, "one watch is not in sync");
        access.set_watch("clusterroles", true);
        assert_eq!(access.ttl(), long);
        access.set_watch("rolebindings", false);
        assert_eq!(access.ttl(), short, "a watch went down");
    }

    #[tokio::test]
    async fn a_change_to_a_namespace_is_announced_to_those_who_follow_it() {
        let access = AccessCache::new(Duration::from_secs(30));
        let mut changes = access.subscribe();
        access.forget(AccessChange::Namespace("team-b".into()));
        access.forget(AccessChange::Namespace("team-a".into()));
        access.forget(AccessChange::Namespace("team-c".into()));
        assert!(next_touching(&mut changes, |ns| ns == "team-a").await);
        assert!(changes.is_empty(), "team-b's change was passed over, team-c's taken with team-a's");
    }
}
