//! The portal's own watches on RBAC — Roles and RoleBindings of every
//! namespace, ClusterRoles, ClusterRoleBindings — so that access answers
//! (`access.rs`) last until something that could change them changes, and
//! long-lived connections (the live notebook stream, notebook WebSockets)
//! ask again within seconds. Every replica runs its own (decision 0010).
//!
//! Only metadata is watched: which object changed, not what it says.

use super::access::{AccessCache, AccessChange};
use futures::StreamExt;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long after a change its answers are forgotten once more. NB: our
/// watch can see a change before the API server's authorizer applies it
/// (it follows RBAC through its own informer, and behind a load balancer
/// another API server may answer): an answer asked in that moment would be
/// the old one, kept for the long TTL.
const SETTLE: Duration = Duration::from_secs(2);
/// A watch that failed is listed afresh after this pause.
const RETRY: Duration = Duration::from_secs(2);

pub(super) fn start(access: AccessCache, client: Client) {
    let (again_tx, again_rx) = mpsc::unbounded_channel();
    let watch = Watch { access: access.clone(), again: again_tx };
    // Registered before any runs, so no answer is kept long until all are in sync.
    for kind in ["rolebindings", "roles", "clusterrolebindings", "clusterroles"] {
        access.set_watch(kind, false);
    }
    watch.spawn::<RoleBinding>(&client, "rolebindings");
    watch.spawn::<Role>(&client, "roles");
    watch.spawn::<ClusterRoleBinding>(&client, "clusterrolebindings");
    watch.spawn::<ClusterRole>(&client, "clusterroles");
    tokio::spawn(forget_again(access, again_rx));
}

#[derive(Clone)]
struct Watch {
    access: AccessCache,
    again: mpsc::UnboundedSender<AccessChange>,
}

impl Watch {
    /// Watches the metadata of every object of kind `K`.
    fn spawn<K>(&self, client: &Client, kind: &'static str)
    where
        K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let api = Api::<PartialObjectMeta<K>>::all(client.clone());
        let this = self.clone();
        tokio::spawn(async move { this.follow(api, kind).await });
    }

    fn changed(&self, change: AccessChange) {
        tracing::debug!(?change, "rbac changed; access answers forgotten");
        self.access.forget(change.clone());
        let _ = self.again.send(change);
    }

    /// Follows one kind for ever, listing afresh after any error.
    async fn follow<K>(&self, api: Api<PartialObjectMeta<K>>, kind: &'static str)
    where
        K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + Debug + Send + Sync + 'static,
    {
        // Resource versions by namespace/name, kept across restarts so a
        // fresh list shows what changed while the watch was down.
        let mut known: HashMap<(String, String), String> = HashMap::new();
        loop {
            let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
            let mut listing: Option<HashMap<(String, String), String>> = None;
            while let Some(event) = stream.next().await {
                match event {
                    Err(error) => {
                        tracing::warn!(kind, %error, "rbac watch interrupted; access answers kept briefly until it is back");
                        break;
                    }
                    Ok(Event::Init) => listing = Some(HashMap::new()),
                    Ok(Event::InitApply(meta)) => {
                        let (key, version) = identify(&meta);
                        listing.get_or_insert_default().insert(key, version);
                    }
                    Ok(Event::InitDone) => {
                        let fresh = listing.take().unwrap_or_default();
                        if fresh != known {
                            self.changed(AccessChange::Everywhere);
                        }
                        known = fresh;
                        self.access.set_watch(kind, true);
                    }
                    Ok(Event::Apply(meta)) => {
                        let (key, version) = identify(&meta);
                        if known.get(&key) != Some(&version) {
                            let change = scope(&key);
                            known.insert(key, version);
                            self.changed(change);
                        }
                    }
                    Ok(Event::Delete(meta)) => {
                        let (key, _) = identify(&meta);
                        known.remove(&key);
                        self.changed(scope(&key));
                    }
                }
            }
            self.access.set_watch(kind, false);
            tokio::time::sleep(RETRY).await;
        }
    }
}

fn identify<K>(meta: &PartialObjectMeta<K>) -> ((String, String), String) {
    let m = &meta.metadata;
    let key = (m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default());
    (key, m.resource_version.clone().unwrap_or_default())
}

/// A namespaced object touches its namespace; a cluster-wide one everything.
fn scope((namespace, _): &(String, String)) -> AccessChange {
    if namespace.is_empty() { AccessChange::Everywhere } else { AccessChange::Namespace(namespace.clone()) }
}

/// Forgets every change once more, [`SETTLE`] after the last of a burst.
async fn forget_again(access: AccessCache, mut changes: mpsc::UnboundedReceiver<AccessChange>) {
    while let Some(first) = changes.recv().await {
        let started = Instant::now();
        let mut pending = vec![first];
        let mut deadline = started + SETTLE;
        loop {
            tokio::select! {
                next = changes.recv() => match next {
                    Some(change) => {
                        pending.push(change);
                        // A steady trickle of changes still gets its repeat.
                        deadline = (Instant::now() + SETTLE).min(started + SETTLE * 5);
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        for change in merged(pending) {
            access.forget(change);
        }
    }
}

/// One change per namespace, or one for everything.
fn merged(mut changes: Vec<AccessChange>) -> Vec<AccessChange> {
    if changes.contains(&AccessChange::Everywhere) {
        return vec![AccessChange::Everywhere];
    }
    changes.sort();
    changes.dedup();
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_objects_touch_their_namespace_cluster_objects_everything() {
        assert_eq!(scope(&("team-a".into(), "member-alice".into())), AccessChange::Namespace("team-a".into()));
        assert_eq!(scope(&(String::new(), "atrium-data-scientist".into())), AccessChange::Everywhere);
    }

    #[test]
    fn a_burst_is_forgotten_again_once_per_namespace() {
        let ns = |n: &str| AccessChange::Namespace(n.into());
        assert_eq!(merged(vec![ns("b"), ns("a"), ns("b")]), vec![ns("a"), ns("b")]);
        assert_eq!(merged(vec![ns("a"), AccessChange::Everywhere]), vec![AccessChange::Everywhere]);
    }

    #[tokio::test]
    async fn answers_are_forgotten_at_once_and_again_after_settling() {
        let access = AccessCache::new(Duration::from_secs(30));
        let mut heard = access.subscribe();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(forget_again(access.clone(), rx));
        let watch = Watch { access: access.clone(), again: tx };
        watch.changed(AccessChange::Namespace("team-a".into()));
        assert_eq!(heard.recv().await.unwrap(), AccessChange::Namespace("team-a".into()));
        let again = tokio::time::timeout(SETTLE * 2, heard.recv()).await.expect("repeated after settling");
        assert_eq!(again.unwrap(), AccessChange::Namespace("team-a".into()));
    }
}
