//! The portal's live picture of every notebook: one watch per kind of object
//! (StatefulSets, Kubeflow Notebooks, their pods, Warning events, team
//! namespaces, the catalog), held in memory and turned into list rows. Pages
//! read rows from here, so listing notebooks costs no API call; who may see
//! which team is still asked of Kubernetes, as the person (see `server.rs`).
//! Every change to a row is broadcast; the live stream forwards the rows of
//! the teams a browser may see.
//!
//! The watches use the portal's own identity, which may list and watch these
//! kinds and nothing more (decision 0007).

use super::catalog::Catalog;
use super::kubeflow::{Notebook, STOPPED_ANNOTATION};
use super::manifest::{IMAGE_ANNOTATION, NOTEBOOK_LABEL, OWNER_ANNOTATION, SIZE_ANNOTATION};
use super::model::{Backend, NotebookEvent, NotebookRow, Phase};
use super::status::{Observed, phase_of};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod, PodSpec};
use kube::api::Api;
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Client, Resource, ResourceExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

/// (team, notebook name)
pub type Key = (String, String);

/// Name and key of the ConfigMap holding the catalog, in the portal's namespace.
pub const CATALOG_CONFIGMAP: &str = "atrium-notebook-catalog";
pub const CATALOG_KEY: &str = "catalog.json";
/// Team annotation: stop notebooks idle for longer than this ("30m", "2h", "45s").
pub const IDLE_ANNOTATION: &str = "atrium.io/stop-idle-after";

#[derive(Default)]
struct Objects {
    sets: HashMap<Key, StatefulSet>,
    notebooks: HashMap<Key, Notebook>,
    pods: HashMap<Key, Pod>,
    /// Warning events per notebook, keyed by the event's own namespace/name.
    events: HashMap<Key, BTreeMap<String, Event>>,
    /// Idle limit per team, in seconds.
    idle: HashMap<String, u64>,
    activity: HashMap<Key, i64>,
    rows: HashMap<Key, NotebookRow>,
    catalog: Option<Catalog>,
}

#[derive(Clone)]
pub struct NotebookIndex {
    objects: Arc<RwLock<Objects>>,
    changes: broadcast::Sender<NotebookEvent>,
    ready: Arc<tokio::sync::Notify>,
    synced: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for NotebookIndex {
    fn default() -> Self {
        NotebookIndex {
            objects: Arc::default(),
            changes: broadcast::channel(4096).0,
            ready: Arc::default(),
            synced: Arc::default(),
        }
    }
}

impl NotebookIndex {
    /// Starts the watches; `kubeflow` adds the one on Kubeflow Notebooks.
    pub fn start(&self, client: Client, portal_namespace: &str, kubeflow: bool) {
        let labelled = watcher::Config::default().labels(NOTEBOOK_LABEL).any_semantic();
        self.watch(Api::<StatefulSet>::all(client.clone()), labelled.clone(), false, |o, key, set| match set {
            Some(s) if s.owner_references().iter().all(|r| r.kind != "Notebook") => {
                o.sets.insert(key, s);
            }
            _ => {
                o.sets.remove(&key);
            }
        });
        self.watch(Api::<Pod>::all(client.clone()), labelled, false, |o, key, pod| match pod {
            Some(p) => {
                o.pods.insert(key, p);
            }
            None => {
                o.pods.remove(&key);
            }
        });
        if kubeflow {
            self.start_kubeflow(client.clone());
        }
        let warnings = watcher::Config::default().fields("type=Warning").any_semantic();
        self.watch_raw(Api::<Event>::all(client.clone()), warnings, |o, event, present| {
            let Some(key) = event_key(&event) else { return vec![] };
            let id = event.name_any();
            let per = o.events.entry(key.clone()).or_default();
            if present {
                per.insert(id, event);
                // Keep the latest few per notebook.
                while per.len() > 20 {
                    let oldest = per.iter().min_by_key(|(_, e)| e.last_timestamp.as_ref().map(|t| t.0)).map(|(k, _)| k.clone());
                    oldest.map(|k| per.remove(&k));
                }
            } else {
                per.remove(&id);
            }
            vec![key]
        });
        let teams = watcher::Config::default().labels("atrium.io/team=true").any_semantic();
        self.watch_raw(Api::<Namespace>::all(client.clone()), teams, |o, ns, present| {
            let name = ns.name_any();
            match ns.annotations().get(IDLE_ANNOTATION).and_then(|v| parse_duration(v)).filter(|_| present) {
                Some(seconds) => o.idle.insert(name, seconds),
                None => o.idle.remove(&name),
            };
            vec![]
        });
        let catalog = watcher::Config::default().fields(&format!("metadata.name={CATALOG_CONFIGMAP}")).any_semantic();
        self.watch_raw(Api::<ConfigMap>::namespaced(client, portal_namespace), catalog, |o, cm, present| {
            o.catalog = present
                .then(|| cm.data.as_ref()?.get(CATALOG_KEY).and_then(|j| serde_json::from_str(j).ok()))
                .flatten();
            o.rows.keys().cloned().collect()
        });
    }

    pub fn start_kubeflow(&self, client: Client) {
        let cfg = watcher::Config::default().any_semantic();
        self.watch(Api::<Notebook>::all(client), cfg, true, |o, key, nb| match nb {
            Some(n) => {
                o.notebooks.insert(key, n);
            }
            None => {
                o.notebooks.remove(&key);
            }
        });
    }

    /// Watches one kind keyed by notebook; `apply` stores or (None) forgets.
    fn watch<K>(&self, api: Api<K>, cfg: watcher::Config, by_name: bool, apply: fn(&mut Objects, Key, Option<K>))
    where
        K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    {
        self.watch_raw(api, cfg, move |o, obj, present| {
            let Some(key) = notebook_key(&obj, by_name) else { return vec![] };
            apply(o, key.clone(), present.then_some(obj));
            vec![key]
        });
    }

    /// Watches one kind; `apply` updates the objects and names the notebooks touched.
    fn watch_raw<K, F>(&self, api: Api<K>, cfg: watcher::Config, apply: F)
    where
        K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
        F: Fn(&mut Objects, K, bool) -> Vec<Key> + Send + Sync + 'static,
    {
        let this = self.clone();
        let kind = std::any::type_name::<K>().rsplit("::").next().unwrap_or("object").to_string();
        tokio::spawn(async move {
            let mut stream = watcher::watcher(api, cfg).boxed();
            // Objects seen during a (re)list, to forget those gone meanwhile.
            let mut listing: Option<Vec<K>> = None;
            let mut known: HashMap<String, K> = HashMap::new();
            loop {
                let event = match stream.next().await {
                    Some(Ok(e)) => e,
                    Some(Err(e)) => {
                        tracing::warn!(kind = %kind, error = %e, "notebook watch interrupted; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                        continue;
                    }
                    None => break,
                };
                let mut touched = Vec::new();
                {
                    let mut o = this.objects.write().expect("notebook index");
                    match event {
                        WatchEvent::Init => listing = Some(Vec::new()),
                        WatchEvent::InitApply(obj) => listing.get_or_insert_with(Vec::new).push(obj),
                        WatchEvent::InitDone => {
                            let fresh: HashMap<String, K> =
                                listing.take().unwrap_or_default().into_iter().map(|obj| (uid_of(&obj), obj)).collect();
                            for (id, obj) in std::mem::take(&mut known) {
                                if !fresh.contains_key(&id) {
                                    touched.extend(apply(&mut o, obj, false));
                                }
                            }
                            for obj in fresh.values() {
                                touched.extend(apply(&mut o, obj.clone(), true));
                            }
                            known = fresh;
                        }
                        WatchEvent::Apply(obj) => {
                            known.insert(uid_of(&obj), obj.clone());
                            touched.extend(apply(&mut o, obj, true));
                        }
                        WatchEvent::Delete(obj) => {
                            known.remove(&uid_of(&obj));
                            touched.extend(apply(&mut o, obj, false));
                        }
                    }
                    touched.sort();
                    touched.dedup();
                    for key in touched {
                        this.refresh(&mut o, key);
                    }
                }
                if !this.synced.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    this.ready.notify_waiters();
                }
            }
        });
    }

    /// Rebuilds one row and tells listeners when it changed.
    fn refresh(&self, o: &mut Objects, key: Key) {
        let row = build_row(o, &key);
        let old = o.rows.get(&key);
        if row.as_ref() == old {
            return;
        }
        let event = match row {
            Some(row) => {
                o.rows.insert(key, row.clone());
                NotebookEvent::Changed { row }
            }
            None => {
                o.rows.remove(&key);
                o.events.remove(&key);
                o.activity.remove(&key);
                NotebookEvent::Removed { team: key.0, name: key.1 }
            }
        };
        let _ = self.changes.send(event);
    }

    /// Every row of these teams, newest first.
    pub fn rows(&self, teams: &[String]) -> Vec<NotebookRow> {
        self.page(teams, usize::MAX).0
    }

    /// The newest `limit` rows of these teams, and how many there are in all;
    /// only the rows returned are copied.
    pub fn page(&self, teams: &[String], limit: usize) -> (Vec<NotebookRow>, usize) {
        let teams: HashSet<&str> = teams.iter().map(String::as_str).collect();
        let o = self.objects.read().expect("notebook index");
        let mut rows: Vec<&NotebookRow> = o.rows.values().filter(|r| teams.contains(r.team.as_str())).collect();
        rows.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.name.cmp(&b.name)));
        let total = rows.len();
        (rows.into_iter().take(limit).cloned().collect(), total)
    }

    pub fn row(&self, team: &str, name: &str) -> Option<NotebookRow> {
        let o = self.objects.read().expect("notebook index");
        o.rows.get(&(team.to_string(), name.to_string())).cloned()
    }

    /// The pod IP of the notebook's server: only the pod its StatefulSet
    /// made (`<name>-0`, controlled by the StatefulSet of that name and uid),
    /// never an address a team could point elsewhere (an `ExternalName`
    /// Service, or a pod that merely carries the label).
    pub fn pod_ip(&self, team: &str, name: &str) -> Option<std::net::IpAddr> {
        let o = self.objects.read().expect("notebook index");
        let key = (team.to_string(), name.to_string());
        let pod = o.pods.get(&key)?;
        let owner = pod.owner_references().iter().find(|r| r.controller == Some(true))?;
        let set_uid = o.sets.get(&key).and_then(|s| s.metadata.uid.clone());
        let kubeflow_owned = o.notebooks.contains_key(&key) && set_uid.is_none();
        let owned = owner.kind == "StatefulSet" && owner.name == name && (set_uid.as_deref() == Some(owner.uid.as_str()) || kubeflow_owned);
        if pod.metadata.name.as_deref() != Some(&format!("{name}-0")) || !owned {
            return None;
        }
        pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()
    }

    pub fn catalog(&self) -> Option<Catalog> {
        self.objects.read().expect("notebook index").catalog.clone()
    }

    /// The team's idle limit in seconds, if culling is on.
    pub fn idle_limit(&self, team: &str) -> Option<u64> {
        self.objects.read().expect("notebook index").idle.get(team).copied()
    }

    /// Running notebooks of teams with culling on, with the team's limit.
    pub fn cullable(&self) -> Vec<(NotebookRow, u64)> {
        let o = self.objects.read().expect("notebook index");
        o.rows
            .values()
            .filter(|r| r.phase == Phase::Running)
            .filter_map(|r| o.idle.get(&r.team).map(|limit| (r.clone(), *limit)))
            .collect()
    }

    /// Records what the Jupyter server said about its last activity.
    pub fn set_activity(&self, team: &str, name: &str, at_ms: i64) {
        let mut o = self.objects.write().expect("notebook index");
        let key = (team.to_string(), name.to_string());
        if o.activity.get(&key) != Some(&at_ms) {
            o.activity.insert(key.clone(), at_ms);
            self.refresh(&mut o, key);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<NotebookEvent> {
        self.changes.subscribe()
    }

    /// Waits (up to `limit`) for the first watch to have listed its objects.
    pub async fn wait_synced(&self, limit: std::time::Duration) {
        let notified = self.ready.notified();
        if self.synced.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let _ = tokio::time::timeout(limit, notified).await;
    }
}

fn uid_of<K: Resource>(obj: &K) -> String {
    let meta = obj.meta();
    format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

fn notebook_key<K: Resource>(obj: &K, by_name: bool) -> Option<Key> {
    let meta = obj.meta();
    let ns = meta.namespace.clone()?;
    let from_label = meta.labels.as_ref().and_then(|l| l.get(NOTEBOOK_LABEL)).cloned();
    // Kubeflow Notebooks are keyed by their own name.
    let name = if by_name { meta.name.clone() } else { from_label }?;
    Some((ns, name))
}

/// Events about `<name>-0` (the pod), `<name>` (StatefulSet or Notebook).
fn event_key(e: &Event) -> Option<Key> {
    let o = &e.involved_object;
    let ns = o.namespace.clone()?;
    let name = o.name.clone()?;
    let name = match o.kind.as_deref()? {
        "Pod" => name.strip_suffix("-0")?.to_string(),
        "StatefulSet" | "Notebook" | "PersistentVolumeClaim" => name.strip_suffix("-workspace").unwrap_or(&name).to_string(),
        _ => return None,
    };
    Some((ns, name))
}

fn build_row(o: &Objects, key: &Key) -> Option<NotebookRow> {
    let (meta, pod_spec, stopped, backend) = if let Some(s) = o.sets.get(key) {
        let spec = s.spec.as_ref()?;
        (&s.metadata, spec.template.spec.as_ref()?, spec.replicas == Some(0), Backend::StatefulSet)
    } else if let Some(n) = o.notebooks.get(key) {
        let stopped = n.annotations().contains_key(STOPPED_ANNOTATION);
        (&n.metadata, &n.spec.template.spec, stopped, Backend::Kubeflow)
    } else {
        return None;
    };
    let events: Vec<&Event> = o.events.get(key).map(|m| m.values().collect()).unwrap_or_default();
    let (phase, reason) = phase_of(&Observed { stopped, pod: o.pods.get(key), events });
    let annotations = meta.annotations.clone().unwrap_or_default();
    let container = pod_spec.containers.first();
    let image_ref = container.and_then(|c| c.image.clone()).unwrap_or_default();
    static STARTER: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(Catalog::starter);
    let catalog = Some(o.catalog.as_ref().unwrap_or(&STARTER));
    let image = annotations
        .get(IMAGE_ANNOTATION)
        .and_then(|id| catalog?.image(id))
        .map(|i| i.display_name.clone())
        .unwrap_or_else(|| image_ref.clone());
    let size = annotations
        .get(SIZE_ANNOTATION)
        .and_then(|id| catalog?.size(id).map(|s| s.display_name.clone()).or(Some(id.clone())))
        .unwrap_or_else(|| "custom".into());
    let limit = |r: &str| {
        container
            .and_then(|c| c.resources.as_ref()?.limits.as_ref()?.get(r).map(|q| q.0.clone()))
            .unwrap_or_default()
    };
    let owner = annotations
        .get(OWNER_ANNOTATION)
        .or_else(|| annotations.get(super::manifest::KUBEFLOW_CREATOR))
        .cloned()
        .unwrap_or_default();
    Some(NotebookRow {
        team: key.0.clone(),
        name: key.1.clone(),
        owner,
        image,
        image_ref,
        size,
        cpu: limit("cpu"),
        memory: limit("memory"),
        gpus: limit("nvidia.com/gpu").parse().unwrap_or(0),
        volume: workspace_claim(pod_spec),
        phase,
        reason,
        created_ms: meta.creation_timestamp.as_ref().map(|t| t.0.as_millisecond()).unwrap_or_default(),
        last_activity_ms: o.activity.get(key).copied(),
        ready_since_ms: o
            .pods
            .get(key)
            .and_then(|p| p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready" && c.status == "True").cloned())
            .and_then(|c| c.last_transition_time)
            .map(|t| t.0.as_millisecond()),
        backend,
    })
}

pub fn workspace_claim(spec: &PodSpec) -> Option<String> {
    spec.volumes.iter().flatten().find_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.clone()))
}

/// "30m", "2h", "45s", "90" (minutes) → seconds; None for off or unparsable.
pub fn parse_duration(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "" | "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    (seconds > 0).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_durations() {
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("45"), Some(2700));
        assert_eq!(parse_duration("5s"), Some(5));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("off"), None);
        assert_eq!(parse_duration("0m"), None);
    }
}
