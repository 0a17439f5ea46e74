//! Step logs outlive their pods. When a step's pod has finished, the portal
//! reads its log (Kubernetes' `pods/log`, with the portal's own identity) and
//! keeps it in the object store under `logs/<team>/<run>/<step>/<pod>.log`.
//! A step's log is read from its pod while the pod exists, and from the
//! archive once it is gone (Argo's pod garbage collection, a node drained,
//! a namespace cleaned up). One replica archives at a time (a Lease); the
//! one that takes over re-lists every finished pod and skips those already
//! kept. Reading from the archive is allowed to those who may read the
//! team's pod logs, asked of Kubernetes as the person.

use crate::config::ObjectStoreConfig;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The largest log kept per step try; longer ones keep their end.
const MAX_BYTES: i64 = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct LogArchive {
    store: Arc<dyn ObjectStore>,
}

impl LogArchive {
    /// The archive on the configured store, or none if no store is configured.
    pub fn new(c: &ObjectStoreConfig) -> Result<Option<LogArchive>, String> {
        let endpoint = c.endpoint.trim();
        if endpoint.is_empty() {
            return Ok(None);
        }
        let region = if c.region.trim().is_empty() { "us-east-1" } else { c.region.trim() };
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_bucket_name(c.bucket.trim())
            .with_region(region)
            .with_access_key_id(c.access_key_id.trim())
            .with_secret_access_key(c.secret_access_key.expose())
            .build()
            .map_err(|e| format!("object store: {e}"))?;
        Ok(Some(LogArchive { store: Arc::new(store) }))
    }

    fn folder(team: &str, run: &str, step: &str) -> Path {
        Path::from_iter(["logs", team, run, step])
    }

    fn key(team: &str, run: &str, step: &str, pod: &str) -> Path {
        Path::from_iter(["logs", team, run, step, &format!("{pod}.log")])
    }

    /// Whether the log of this try of a step is kept.
    pub async fn has(&self, team: &str, run: &str, step: &str, pod: &str) -> Result<bool, object_store::Error> {
        match self.store.head(&Self::key(team, run, step, pod)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn put(&self, team: &str, run: &str, step: &str, pod: &str, text: String) -> Result<(), object_store::Error> {
        self.store.put(&Self::key(team, run, step, pod), PutPayload::from(text.into_bytes())).await.map(drop)
    }

    /// The kept log of the newest try of a step, if any.
    pub async fn get(&self, team: &str, run: &str, step: &str) -> Result<Option<String>, object_store::Error> {
        let tries: Vec<_> = self.store.list(Some(&Self::folder(team, run, step))).try_collect().await?;
        let Some(newest) = tries.into_iter().max_by_key(|m| m.last_modified) else { return Ok(None) };
        let bytes = self.store.get(&newest.location).await?.bytes().await?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

fn finished(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// Keeps the log of one finished pod unless it is kept already. Returns
/// whether the pod is done with (kept now or before, or it has no log to
/// keep: its container never started).
async fn keep(archive: &LogArchive, portal: &kube::Client, pod: &Pod) -> bool {
    use kube::api::{Api, LogParams};
    let meta = &pod.metadata;
    let (Some(team), Some(name)) = (meta.namespace.as_deref(), meta.name.as_deref()) else { return true };
    let labels = meta.labels.clone().unwrap_or_default();
    let (Some(run), Some(step)) = (labels.get("workflows.argoproj.io/workflow"), labels.get(super::workflow::STEP_LABEL)) else { return true };
    match archive.has(team, run, step, name).await {
        Ok(true) => return true,
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(team, pod = name, error = %e, "log archive not reachable");
            return false;
        }
    }
    let lp = LogParams { container: Some("main".into()), limit_bytes: Some(MAX_BYTES), ..Default::default() };
    let text = match Api::<Pod>::namespaced(portal.clone(), team).logs(name, &lp).await {
        Ok(text) => text,
        // Its container never started (400), or the pod is gone already (404).
        Err(kube::Error::Api(s)) if s.code == 400 || s.code == 404 => {
            tracing::info!(team, pod = name, code = s.code, "no log to keep");
            return true;
        }
        Err(e) => {
            tracing::warn!(team, pod = name, error = %e, "could not read a step's log");
            return false;
        }
    };
    match archive.put(team, run, step, name, text).await {
        Ok(()) => {
            tracing::info!(team, run, step, pod = name, "step log archived");
            true
        }
        Err(e) => {
            tracing::warn!(team, pod = name, error = %e, "could not archive a step's log");
            false
        }
    }
}

/// Follows finished step pods in every namespace and keeps their logs, on
/// the replica holding Lease `lease_name`.
pub fn spawn(archive: LogArchive, portal: kube::Client, namespace: &str, lease_name: &str, lease: Duration) {
    use kube::runtime::{WatchStreamExt, watcher};
    let leader = crate::platform::lease::follow(portal.clone(), namespace, lease_name, lease);
    tokio::spawn(async move {
        // Pods kept (or with nothing to keep), by uid: asked of the store once.
        let mut done: HashSet<String> = HashSet::new();
        // Pods whose log could not be kept yet (the store or the API server
        // did not answer), tried again every few seconds.
        let mut again: std::collections::HashMap<String, Pod> = Default::default();
        loop {
            while !leader.is_held() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let pods = kube::Api::<Pod>::all(portal.clone());
            let config = watcher::Config::default().labels(&format!("workflows.argoproj.io/workflow,{}", super::workflow::STEP_LABEL));
            let mut events = watcher(pods, config).default_backoff().applied_objects().boxed();
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            // Until another replica holds the lease (it then lists everything again).
            while leader.is_held() {
                tokio::select! {
                    _ = tick.tick() => {
                        for (uid, pod) in std::mem::take(&mut again) {
                            if keep(&archive, &portal, &pod).await {
                                done.insert(uid);
                            } else {
                                again.insert(uid, pod);
                            }
                        }
                    }
                    event = events.next() => match event {
                        Some(Ok(pod)) if finished(&pod) => {
                            let uid = pod.metadata.uid.clone().unwrap_or_default();
                            if done.contains(&uid) {
                                continue;
                            }
                            if keep(&archive, &portal, &pod).await {
                                again.remove(&uid);
                                done.insert(uid);
                            } else {
                                again.insert(uid, pod);
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => tracing::warn!(error = %e, "watching step pods"),
                        None => break,
                    },
                }
            }
        }
    });
}
