//! Pipeline runs at scale: a bench team (`plbench`) with ATRIUM_BENCH_RUNS
//! (default 5,000) finished runs of one pipeline, dave its data engineer.
//! Measures as dave:
//!   * server time of the runs page (newest first), of a filtered page and
//!     of a later page, p50 and p99, and Kubernetes API calls per view;
//!   * side by side, the API server itself listing the team's runs the way
//!     Argo's UI does (all of them), and one page of 50 in name order (what
//!     a Kubernetes `limit` gives; not newest first), as dave.
//! And, without the portal: checking a 200-step pipeline (what the editor
//! does on each edit, natively here; bench/pipelines-browser.mjs measures
//! it in Chromium's WASM).
//! Runs are made as Argo leaves finished ones (labelled completed, with a
//! status), so its controller leaves them alone. Removes what it made. Run
//! through `bench/run.sh`.

#[path = "../tests/common/mod.rs"]
mod common;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use std::time::{Duration, Instant};

const TEAM: &str = "plbench";

fn env(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let base = std::env::var("ATRIUM_BENCH_URL").unwrap_or_else(|_| "http://localhost:3101".into());
    let runs = env("ATRIUM_BENCH_RUNS", 5000);
    let views = env("ATRIUM_BENCH_VIEWS", 200);
    validation();
    let admin = common::cluster_admin().await;
    let dave = common::as_user("dave").await.subject_name("dave");
    let t = Instant::now();
    fill(&admin, runs, &dave).await;
    println!("{runs} finished runs in team {TEAM} ({:.1} s)", t.elapsed().as_secs_f64());

    let (client, _jar) = common::browser();
    common::sign_in(&client, &base, "dave", "/pipelines").await;
    // Until the portal's index holds them all.
    for _ in 0..600 {
        let html = client.get(format!("{base}/pipelines/{TEAM}/runs")).send().await.unwrap().text().await.unwrap();
        if html.contains(&format!("of {runs}</p>")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for path in [
        format!("/pipelines/{TEAM}/runs"),
        format!("/pipelines/{TEAM}/runs?phase=Failed&sort=longest"),
        format!("/pipelines/{TEAM}/runs?page=40"),
    ] {
        measure(&client, &base, &path, views).await;
    }
    api_server_side_by_side(views).await;
    clean(&admin).await;
}

/// `Pipeline::problems` on a 200-step DAG (each step after the two before).
fn validation() {
    use app::pipelines::model::{Pipeline, Step, Work};
    let image = "quay.io/jupyter/scipy-notebook:2025-10-20".to_string();
    let steps = (0..200)
        .map(|i: usize| Step {
            name: format!("step-{i}"),
            image: image.clone(),
            work: Work::Command(format!("python train.py --part {i}")),
            after: (i.saturating_sub(2)..i).map(|j| format!("step-{j}")).collect(),
            ..Default::default()
        })
        .collect();
    let p = Pipeline { name: "big".into(), steps, ..Default::default() };
    let images = [image];
    let mut times: Vec<Duration> = (0..500)
        .map(|_| {
            let t = Instant::now();
            assert!(std::hint::black_box(p.problems(&images, None)).is_empty());
            t.elapsed()
        })
        .collect();
    report("checking a 200-step pipeline (native)", &mut times);
}

async fn measure(client: &reqwest::Client, base: &str, path: &str, views: usize) {
    let before = common::kube_calls(base).await;
    let mut times = Vec::with_capacity(views);
    let mut bytes = 0;
    for _ in 0..views {
        let t = Instant::now();
        let res = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        bytes = res.bytes().await.unwrap().len();
        times.push(t.elapsed());
    }
    let calls = common::kube_calls(base).await - before;
    report(&format!("portal {path}"), &mut times);
    println!("  {:.2} Kubernetes API calls per view ({calls} in all); page {} KB", calls as f64 / views as f64, bytes / 1024);
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pct = |p: f64| ms(times[((times.len() as f64 - 1.0) * p) as usize]);
    println!("{what}: {} views   p50 {:.1} ms   p99 {:.1} ms", times.len(), pct(0.5), pct(0.99));
}

/// The API server, as dave: every run of the team (what Argo's UI lists),
/// and one page of 50.
async fn api_server_side_by_side(views: usize) {
    let dave = common::as_user("dave").await.client();
    let api: Api<DynamicObject> = Api::namespaced_with(dave, TEAM, &app::pipelines::workflow::api_resource("Workflow"));
    for (what, lp) in [
        ("API server: all runs of the team (as Argo's UI lists them)", ListParams::default()),
        ("API server: one page of 50 (name order)", ListParams::default().limit(50)),
    ] {
        let n = if lp.limit.is_none() { views.min(40) } else { views };
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            api.list(&lp).await.unwrap();
            times.push(t.elapsed());
        }
        report(what, &mut times);
    }
}

async fn fill(admin: &kube::Client, runs: usize, dave: &str) {
    common::bench_team(admin, TEAM, dave, "atrium-data-engineer").await;
    let workflows: Api<DynamicObject> = Api::namespaced_with(admin.clone(), TEAM, &app::pipelines::workflow::api_resource("Workflow"));
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    let made = (0..runs).map(|i| {
        let workflows = workflows.clone();
        async move {
            let at = start + time::Duration::minutes(i as i64 * 8);
            let took = time::Duration::seconds(20 + (i as i64 * 37) % 900);
            let fmt = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
            let (phase, message) = if i % 7 == 0 { ("Failed", "child 'train' failed") } else { ("Succeeded", "") };
            let pipeline = ["etl", "train", "report"][i % 3];
            let run: DynamicObject = serde_json::from_value(serde_json::json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {
                    "name": format!("{pipeline}-{i:05}"),
                    "labels": { "workflows.argoproj.io/completed": "true", "workflows.argoproj.io/phase": phase, "workflows.argoproj.io/workflow-template": pipeline },
                    "annotations": { "atrium.io/started-by": if i % 4 == 0 { "schedule nightly" } else { "dave" } },
                },
                "spec": { "workflowTemplateRef": { "name": pipeline } },
                "status": { "phase": phase, "startedAt": fmt(at), "finishedAt": fmt(at + took), "message": message },
            }))
            .unwrap();
            workflows.create(&PostParams::default(), &run).await.unwrap();
        }
    });
    futures::stream::iter(made).buffer_unordered(16).collect::<Vec<_>>().await;
}

async fn clean(admin: &kube::Client) {
    let _ = Api::<Namespace>::all(admin.clone()).delete(TEAM, &DeleteParams::default()).await;
}
