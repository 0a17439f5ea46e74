//! Every team's runs, from one watch of Argo's `Workflow`s with the portal's
//! own identity (as notebooks are, decision 0007). The runs page filters,
//! sorts and pages this index in memory, so a team with thousands of runs
//! costs no Kubernetes call per view, and the newest runs come first across
//! all of them (a Kubernetes list pages in name order). Whether the person
//! may see a team's runs is still asked as them (`list workflows`). Until
//! the watch has listed everything once, the page reads Kubernetes instead.
//! The same watch tells an open run page the moment its run changes
//! (`changed_since`), so a step's new state reaches the browser without
//! polling the API server.

use super::api::{RunRow, server::run_row};
use futures::StreamExt;
use kube::api::DynamicObject;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How the runs page orders runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunSort {
    #[default]
    Newest,
    Oldest,
    Longest,
    Name,
}

impl RunSort {
    pub fn parse(s: &str) -> RunSort {
        match s {
            "oldest" => RunSort::Oldest,
            "longest" => RunSort::Longest,
            "name" => RunSort::Name,
            _ => RunSort::Newest,
        }
    }
}

/// Which runs to show: each field empty means any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub phase: String,
    /// Part of the pipeline's name.
    pub pipeline: String,
    /// Part of who (or which schedule) started it.
    pub by: String,
}

impl RunFilter {
    fn keeps(&self, r: &RunRow) -> bool {
        (self.phase.is_empty() || r.phase == self.phase)
            && (self.pipeline.is_empty() || r.pipeline.contains(&self.pipeline))
            && (self.by.is_empty() || r.started_by.contains(&self.by))
    }
}

/// One page of a team's runs, and what there is in all.
pub struct RunPage {
    pub rows: Vec<RunRow>,
    /// Runs that pass the filter.
    pub total: usize,
    /// Runs of the team by phase (whatever the filter), for the filter's choices.
    pub phases: Vec<(String, usize)>,
}

#[derive(Default)]
struct Inner {
    ready: bool,
    /// team → run → (row, created at in ms).
    teams: HashMap<String, HashMap<String, (RunRow, i64)>>,
    /// (team, run) → resourceVersion.
    versions: HashMap<(String, String), String>,
}

#[derive(Clone)]
pub struct RunIndex {
    inner: Arc<RwLock<Inner>>,
    /// Every run that changed (or went), as (team, run).
    changes: tokio::sync::broadcast::Sender<(String, String)>,
}

impl Default for RunIndex {
    fn default() -> RunIndex {
        RunIndex { inner: Arc::default(), changes: tokio::sync::broadcast::channel(1024).0 }
    }
}

fn created_ms(o: &DynamicObject) -> i64 {
    o.metadata.creation_timestamp.as_ref().map(|t| t.0.as_millisecond()).unwrap_or(0)
}

fn key(o: &DynamicObject) -> Option<(String, String)> {
    Some((o.metadata.namespace.clone()?, o.metadata.name.clone()?))
}

impl RunIndex {
    pub fn is_ready(&self) -> bool {
        self.inner.read().map(|i| i.ready).unwrap_or(false)
    }

    fn apply(&self, o: &DynamicObject) {
        let Some((team, name)) = key(o) else { return };
        if let Ok(mut i) = self.inner.write() {
            i.teams.entry(team.clone()).or_default().insert(name.clone(), (run_row(o), created_ms(o)));
            i.versions.insert((team.clone(), name.clone()), o.metadata.resource_version.clone().unwrap_or_default());
        }
        let _ = self.changes.send((team, name));
    }

    fn delete(&self, o: &DynamicObject) {
        let Some((team, name)) = key(o) else { return };
        if let Ok(mut i) = self.inner.write() {
            if let Some(runs) = i.teams.get_mut(&team) {
                runs.remove(&name);
            }
            i.versions.remove(&(team.clone(), name.clone()));
        }
        let _ = self.changes.send((team, name));
    }

    fn replace(&self, all: Vec<DynamicObject>) {
        let mut teams: HashMap<String, HashMap<String, (RunRow, i64)>> = HashMap::new();
        let mut versions = HashMap::new();
        for o in &all {
            if let Some((team, name)) = key(o) {
                teams.entry(team.clone()).or_default().insert(name.clone(), (run_row(o), created_ms(o)));
                versions.insert((team, name), o.metadata.resource_version.clone().unwrap_or_default());
            }
        }
        let changed: Vec<(String, String)> = match self.inner.write() {
            Ok(mut i) => {
                let changed = versions.iter().filter(|(k, v)| i.versions.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect();
                let gone: Vec<(String, String)> = i.versions.keys().filter(|k| !versions.contains_key(*k)).cloned().collect();
                i.teams = teams;
                i.versions = versions;
                i.ready = true;
                [changed, gone].concat()
            }
            Err(_) => Vec::new(),
        };
        for c in changed {
            let _ = self.changes.send(c);
        }
    }

    /// The run's resourceVersion as the watch last saw it (`None`: no such
    /// run, or the watch has not listed every run yet).
    pub fn version(&self, team: &str, run: &str) -> Option<String> {
        self.inner.read().ok()?.versions.get(&(team.to_string(), run.to_string())).cloned()
    }

    /// Waits until run `run` of `team` is at another version than `seen`
    /// (or gone), at most `wait`; then its version (empty when gone), or
    /// `None` if nothing changed.
    pub async fn changed_since(&self, team: &str, run: &str, seen: &str, wait: Duration) -> Option<String> {
        // Subscribed before looking, so a change in between is not missed.
        let mut rx = self.changes.subscribe();
        let now = || self.version(team, run).unwrap_or_default();
        if now() != seen {
            return Some(now());
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return None,
                Ok(Ok((t, r))) if t != team || r != run => continue,
                // This run, or fell behind: look again.
                Ok(_) => {
                    if now() != seen {
                        return Some(now());
                    }
                }
            }
        }
    }

    /// Runs `offset..offset + limit` of `team` that pass `filter`, in `sort`
    /// order; `None` until the watch has listed every run once.
    pub fn page(&self, team: &str, filter: &RunFilter, sort: RunSort, offset: usize, limit: usize) -> Option<RunPage> {
        let i = self.inner.read().ok()?;
        if !i.ready {
            return None;
        }
        let empty = HashMap::new();
        let runs = i.teams.get(team).unwrap_or(&empty);
        let mut phases: HashMap<&str, usize> = HashMap::new();
        let mut kept: Vec<&(RunRow, i64)> = Vec::new();
        for entry in runs.values() {
            *phases.entry(entry.0.phase.as_str()).or_default() += 1;
            if filter.keeps(&entry.0) {
                kept.push(entry);
            }
        }
        // A run that has not started yet sorts by when it was made.
        let when = |e: &(RunRow, i64)| e.0.started_ms.unwrap_or(e.1);
        let took = |e: &(RunRow, i64)| e.0.finished_ms.zip(e.0.started_ms).map(|(f, s)| f - s).unwrap_or(-1);
        match sort {
            RunSort::Newest => kept.sort_by(|a, b| when(b).cmp(&when(a)).then_with(|| a.0.name.cmp(&b.0.name))),
            RunSort::Oldest => kept.sort_by(|a, b| when(a).cmp(&when(b)).then_with(|| a.0.name.cmp(&b.0.name))),
            RunSort::Longest => kept.sort_by(|a, b| took(b).cmp(&took(a)).then_with(|| a.0.name.cmp(&b.0.name))),
            RunSort::Name => kept.sort_by(|a, b| a.0.name.cmp(&b.0.name)),
        }
        let total = kept.len();
        let rows = kept.into_iter().skip(offset).take(limit).map(|e| e.0.clone()).collect();
        let mut phases: Vec<(String, usize)> = phases.into_iter().map(|(p, n)| (p.to_string(), n)).collect();
        phases.sort();
        Some(RunPage { rows, total, phases })
    }

    /// Follows every Workflow for as long as the runtime lives (retrying
    /// with backoff while Argo's CRD is missing or the API server is away).
    pub fn follow(&self, portal: kube::Client) {
        use kube::runtime::{WatchStreamExt, watcher};
        let index = self.clone();
        tokio::spawn(async move {
            let api = kube::Api::<DynamicObject>::all_with(portal, &super::workflow::api_resource("Workflow"));
            let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
            let mut listing: Vec<DynamicObject> = Vec::new();
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Init) => listing.clear(),
                    Ok(watcher::Event::InitApply(o)) => listing.push(o),
                    Ok(watcher::Event::InitDone) => index.replace(std::mem::take(&mut listing)),
                    Ok(watcher::Event::Apply(o)) => index.apply(&o),
                    Ok(watcher::Event::Delete(o)) => index.delete(&o),
                    Err(e) => {
                        tracing::debug!(error = %e, "watching pipeline runs");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(team: &str, name: &str, pipeline: &str, phase: &str, started: Option<&str>, finished: Option<&str>, by: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": { "name": name, "namespace": team, "creationTimestamp": "2026-11-30T08:00:00Z", "annotations": { "atrium.io/started-by": by } },
            "spec": { "workflowTemplateRef": { "name": pipeline } },
            "status": { "phase": phase, "startedAt": started, "finishedAt": finished },
        }))
        .unwrap()
    }

    #[test]
    fn newest_first_across_all_runs_with_filters_and_pages() {
        let index = RunIndex::default();
        assert!(index.page("team-a", &RunFilter::default(), RunSort::Newest, 0, 10).is_none(), "not ready before the first listing");
        index.replace(vec![
            run("team-a", "etl-zzz", "etl", "Succeeded", Some("2026-11-30T09:00:00Z"), Some("2026-11-30T09:00:05Z"), "dave"),
            run("team-a", "etl-aaa", "etl", "Failed", Some("2026-11-30T10:00:00Z"), Some("2026-11-30T10:01:00Z"), "schedule etl-daily"),
            run("team-a", "train-mmm", "train", "Running", Some("2026-11-30T11:00:00Z"), None, "dave"),
            run("team-b", "other-x", "other", "Succeeded", Some("2026-11-30T12:00:00Z"), None, "maria"),
        ]);
        let all = RunFilter::default();
        let names = |p: RunPage| p.rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(index.page("team-a", &all, RunSort::Newest, 0, 10).unwrap()), ["train-mmm", "etl-aaa", "etl-zzz"]);
        assert_eq!(names(index.page("team-a", &all, RunSort::Longest, 0, 10).unwrap()), ["etl-aaa", "etl-zzz", "train-mmm"]);
        assert_eq!(names(index.page("team-a", &all, RunSort::Newest, 1, 1).unwrap()), ["etl-aaa"]);
        let failed = RunFilter { phase: "Failed".into(), ..Default::default() };
        let page = index.page("team-a", &failed, RunSort::Newest, 0, 10).unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.phases, [("Failed".to_string(), 1), ("Running".into(), 1), ("Succeeded".into(), 1)]);
        let scheduled = RunFilter { by: "schedule".into(), ..Default::default() };
        assert_eq!(names(index.page("team-a", &scheduled, RunSort::Newest, 0, 10).unwrap()), ["etl-aaa"]);
        // Changes and deletions follow the watch.
        index.apply(&run("team-a", "train-mmm", "train", "Succeeded", Some("2026-11-30T11:00:00Z"), Some("2026-11-30T11:00:09Z"), "dave"));
        index.delete(&run("team-a", "etl-zzz", "etl", "Succeeded", None, None, ""));
        let page = index.page("team-a", &all, RunSort::Newest, 0, 10).unwrap();
        assert_eq!(page.rows.iter().map(|r| (r.name.as_str(), r.phase.as_str())).collect::<Vec<_>>(), [("train-mmm", "Succeeded"), ("etl-aaa", "Failed")]);
        assert_eq!(index.page("team-c", &all, RunSort::Newest, 0, 10).unwrap().total, 0);
    }

    #[tokio::test]
    async fn a_waiting_run_page_hears_of_its_run_and_only_its_run() {
        let index = RunIndex::default();
        let mut first = run("team-a", "etl-1", "etl", "Running", Some("2026-11-30T09:00:00Z"), None, "dave");
        first.metadata.resource_version = Some("10".into());
        index.replace(vec![first.clone()]);
        assert_eq!(index.version("team-a", "etl-1").as_deref(), Some("10"));
        // An old version is answered at once.
        assert_eq!(index.changed_since("team-a", "etl-1", "9", Duration::from_secs(5)).await.as_deref(), Some("10"));
        // Nothing changes: the wait ends empty.
        assert_eq!(index.changed_since("team-a", "etl-1", "10", Duration::from_millis(50)).await, None);
        let waiting = {
            let index = index.clone();
            tokio::spawn(async move { index.changed_since("team-a", "etl-1", "10", Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut other = run("team-b", "etl-1", "etl", "Running", None, None, "maria");
        other.metadata.resource_version = Some("11".into());
        index.apply(&other);
        let mut next = first.clone();
        next.metadata.resource_version = Some("12".into());
        index.apply(&next);
        assert_eq!(waiting.await.unwrap().as_deref(), Some("12"), "another team's run of the same name does not wake it");
        index.delete(&next);
        assert_eq!(index.changed_since("team-a", "etl-1", "12", Duration::from_secs(5)).await.as_deref(), Some(""), "gone");
    }
}
