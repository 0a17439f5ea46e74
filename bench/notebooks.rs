//! Notebook list at scale: fills the local stack with ATRIUM_BENCH_NOTEBOOKS
//! (default 1,000) notebooks across ATRIUM_BENCH_NB_TEAMS (default 50) team
//! namespaces, all visible to alice, then measures as alice:
//!   * Kubernetes API calls of her first view of `/notebooks` (all her teams);
//!   * server time of `/notebooks` and of one team's page, p50, p99 and the
//!     slowest views, and Kubernetes API calls per view. Views are paced
//!     evenly over ATRIUM_BENCH_WINDOW_SECONDS (default 100 s), so the window
//!     spans several lifetimes of a short-lived access cache (30 s) and its
//!     periodic re-asking shows in the p99, as a person clicking about would
//!     meet it;
//!   * the time from a notebook's pod turning Ready in the API server (seen
//!     by a watch) to the live stream the browser follows saying Running.
//! Removes what it made. Run through `bench/run.sh`.

#[path = "../tests/common/mod.rs"]
mod common;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let base = std::env::var("ATRIUM_BENCH_URL").unwrap_or_else(|_| "http://localhost:3101".into());
    let notebooks = env("ATRIUM_BENCH_NOTEBOOKS", 1000);
    let teams = env("ATRIUM_BENCH_NB_TEAMS", 50);
    let views = env("ATRIUM_BENCH_VIEWS", 200);
    let window = Duration::from_secs(env("ATRIUM_BENCH_WINDOW_SECONDS", 100) as u64);
    let admin = common::cluster_admin().await;
    leftovers_gone(&admin).await;
    // Alice as RBAC subjects name her (with the identity provider's prefix).
    let alice = common::as_user("alice").await.subject_name("alice");
    let t = Instant::now();
    fill(&admin, teams, notebooks, &alice).await;
    println!("{notebooks} notebooks in {teams} bench teams ({:.1} s)", t.elapsed().as_secs_f64());
    settled(&admin).await;
    println!("the StatefulSet controller has seen them all ({:.1} s)", t.elapsed().as_secs_f64());

    let (client, _jar) = common::browser();
    common::sign_in(&client, &base, "alice", "/notebooks").await;
    // Wait until the portal's watch holds them all.
    for _ in 0..600 {
        let html = client.get(format!("{base}/notebooks")).send().await.unwrap().text().await.unwrap();
        if html.contains(&format!("{} notebooks", notebooks + existing(&admin).await)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    first_view(&base).await;
    for path in ["/notebooks".to_string(), "/notebooks/nbbench-00".to_string()] {
        measure(&client, &base, &path, views, window).await;
    }
    live_latency(&client, &base, &admin).await;
    clean(&admin).await;
}

/// Waits until the StatefulSet controller has caught up with the new objects
/// (it is rate-limited; until then a scaled notebook waits in its queue).
async fn settled(admin: &kube::Client) {
    let all = Api::<StatefulSet>::all(admin.clone());
    let lp = ListParams::default().labels("atrium.io/notebook");
    for _ in 0..1200 {
        let list = all.list(&lp).await.unwrap();
        if list.items.iter().all(|s| s.status.as_ref().and_then(|st| st.observed_generation) == s.metadata.generation) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the StatefulSet controller did not catch up");
}

/// Notebooks not made by the benchmark that alice sees (team-a's).
async fn existing(admin: &kube::Client) -> usize {
    let lp = ListParams::default().labels("atrium.io/notebook");
    Api::<StatefulSet>::namespaced(admin.clone(), "team-a").list_metadata(&lp).await.unwrap().items.len()
}

/// API calls of a fresh session's first view of all its teams' notebooks.
async fn first_view(base: &str) {
    let (client, _jar) = common::browser();
    common::sign_in(&client, base, "alice", "/").await;
    let before = common::kube_calls(base).await;
    let t = Instant::now();
    let res = client.get(format!("{base}/notebooks")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    let took = t.elapsed().as_secs_f64() * 1e3;
    let calls = common::kube_calls(base).await - before;
    println!("/notebooks, a new session's first view: {calls} Kubernetes API calls, {took:.1} ms");
}

/// `views` sequential views, one every `window / views`.
async fn measure(client: &reqwest::Client, base: &str, path: &str, views: usize, window: Duration) {
    let before = common::kube_calls(base).await;
    let mut times = Vec::with_capacity(views);
    let pace = window / views as u32;
    let all = Instant::now();
    for i in 0..views {
        tokio::time::sleep_until((all + pace * i as u32).into()).await;
        let t = Instant::now();
        let res = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        times.push(t.elapsed());
    }
    let span = all.elapsed().as_secs_f64();
    let calls = common::kube_calls(base).await - before;
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pct = |p: f64| ms(times[((times.len() as f64 - 1.0) * p) as usize]);
    let slowest: Vec<String> = times.iter().rev().take(5).map(|d| format!("{:.0}", ms(*d))).collect();
    println!("{path}: {views} sequential views as alice, one every {} ms over {span:.0} s", pace.as_millis());
    println!("  p50 {:.1} ms   p99 {:.1} ms   slowest {} ms", pct(0.5), pct(0.99), slowest.join(", "));
    println!("  {:.2} Kubernetes API calls per view ({calls} in all)", calls as f64 / views as f64);
}

/// Pod Ready in the API server (as a watch sees it) → Running on the stream.
async fn live_latency(client: &reqwest::Client, base: &str, admin: &kube::Client) {
    let ns = "nbbench-00";
    let name = "nb-00-000";
    let sets = Api::<StatefulSet>::namespaced(admin.clone(), ns);
    let pods = Api::<Pod>::namespaced(admin.clone(), ns);
    let mut samples = Vec::new();
    for _ in 0..10 {
        let stream = client.get(format!("{base}/api/notebooks/stream?team={ns}")).send().await.unwrap();
        let mut body = stream.bytes_stream();
        let mut pod_watch = watcher::watcher(pods.clone(), watcher::Config::default().fields(&format!("metadata.name={name}-0"))).boxed();
        let scale = |n: i32| serde_json::json!({"spec": {"replicas": n}});
        sets.patch(name, &PatchParams::default(), &Patch::Merge(&scale(1))).await.unwrap();
        let ready_at = async {
            while let Some(Ok(ev)) = pod_watch.next().await {
                if let watcher::Event::Apply(p) | watcher::Event::InitApply(p) = ev
                    && p.status.and_then(|s| s.conditions).unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True")
                {
                    return Instant::now();
                }
            }
            panic!("watch ended");
        };
        let running_at = async {
            let mut text = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let event: String = text.drain(..end + 2).collect();
                    if event.contains(&format!("\"name\":\"{name}\"")) && event.contains("\"phase\":\"Running\"") && !event.contains("Snapshot") {
                        return Instant::now();
                    }
                }
            }
            panic!("stream ended");
        };
        let Ok((ready, running)) = tokio::time::timeout(Duration::from_secs(60), futures::future::join(ready_at, running_at)).await
        else {
            let pod = pods.get_opt(&format!("{name}-0")).await.unwrap();
            panic!("not Running within 60 s; the pod is {:?}", pod.and_then(|p| p.status));
        };
        samples.push(running.saturating_duration_since(ready).as_secs_f64() * 1e3);
        sets.patch(name, &PatchParams::default(), &Patch::Merge(&scale(0))).await.unwrap();
        for _ in 0..100 {
            if pods.get_opt(&format!("{name}-0")).await.unwrap().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("pod Ready in the API server → Running on the browser's stream, 10 starts");
    println!("  median {:.0} ms   max {:.0} ms", samples[samples.len() / 2], samples[samples.len() - 1]);
}

async fn fill(admin: &kube::Client, teams: usize, notebooks: usize, alice: &str) {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let per_team = notebooks.div_ceil(teams);
    let work = (0..teams).map(|t| {
        let (namespaces, admin) = (namespaces.clone(), admin.clone());
        async move {
            let team = format!("nbbench-{t:02}");
            if namespaces.get_opt(&team).await.unwrap().is_some() {
                return;
            }
            let mut labels = app::teams::namespace_labels();
            labels.insert("atrium.io/bench".into(), "true".into());
            let ns = Namespace { metadata: ObjectMeta { name: Some(team.clone()), labels: Some(labels), ..Default::default() }, ..Default::default() };
            namespaces.create(&PostParams::default(), &ns).await.unwrap();
            let binding = RoleBinding {
                metadata: ObjectMeta {
                    name: Some("member-alice".into()),
                    labels: Some(BTreeMap::from([("atrium.io/member".into(), "true".into())])),
                    ..Default::default()
                },
                role_ref: RoleRef { api_group: Some("rbac.authorization.k8s.io".into()), kind: "ClusterRole".into(), name: "atrium-data-scientist".into() },
                subjects: Some(vec![Subject { kind: "User".into(), name: alice.into(), api_group: Some("rbac.authorization.k8s.io".into()), ..Default::default() }]),
            };
            Api::<RoleBinding>::namespaced(admin.clone(), &team).create(&PostParams::default(), &binding).await.unwrap();
            let sets = Api::<StatefulSet>::namespaced(admin, &team);
            for n in 0..per_team {
                let set: StatefulSet = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("nb-{t:02}-{n:03}"), "labels": {"atrium.io/notebook": format!("nb-{t:02}-{n:03}")},
                                 "annotations": {"atrium.io/owner": "alice", "atrium.io/image": "minimal", "atrium.io/size": "small"}},
                    "spec": {"replicas": 0, "serviceName": format!("nb-{t:02}-{n:03}"),
                             "selector": {"matchLabels": {"atrium.io/notebook": format!("nb-{t:02}-{n:03}")}},
                             "template": {"metadata": {"labels": {"atrium.io/notebook": format!("nb-{t:02}-{n:03}")}},
                                          "spec": {"securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
                                                   "containers": [{"name": "nb", "image": "quay.io/jupyter/minimal-notebook:2025-06-02",
                                                   "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                                                   "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}}}
                }))
                .unwrap();
                sets.create(&PostParams::default(), &set).await.unwrap();
            }
        }
    });
    futures::stream::iter(work).buffer_unordered(8).collect::<Vec<_>>().await;
}

/// Waits until an earlier run's teams, still being deleted, are gone (a
/// team that is terminating would be taken as already filled).
async fn leftovers_gone(admin: &kube::Client) {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let lp = ListParams::default().labels("atrium.io/bench=true");
    for _ in 0..600 {
        let list = namespaces.list_metadata(&lp).await.unwrap();
        if list.items.iter().all(|ns| ns.metadata.deletion_timestamp.is_none()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("an earlier run's bench teams are still being deleted");
}

async fn clean(admin: &kube::Client) {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let list = namespaces.list_metadata(&ListParams::default().labels("atrium.io/bench=true")).await.unwrap();
    for ns in list.items {
        let _ = namespaces.delete(&ns.metadata.name.unwrap_or_default(), &DeleteParams::default()).await;
    }
}
