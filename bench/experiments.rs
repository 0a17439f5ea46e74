//! Experiments at scale, the portal side by side with MLflow's own REST API
//! in the same run. Seeds (once; kept for later runs) an experiment of team-a
//! with ATRIUM_BENCH_RUNS (default 10,000) runs of 20 params and 10 metrics,
//! and a run whose `loss` has 100,000 steps, through MLflow's REST API. Then,
//! signed in as alice, ATRIUM_BENCH_VIEWS (default 50) sequential views of:
//!   * the runs page, first page (newest first) and sorted by a metric;
//!   * comparing 100 runs (params, metrics, 10 overlaid histories);
//!   * the run page charting the 100,000-step metric (at most 1,000 points);
//! each against the MLflow calls that page needs, sent straight to MLflow.
//! Prints p50 and p99 of each and the ratio, MLflow calls per view, and how
//! many views failed (a 503 when MLflow did not answer within the portal's
//! timeout) instead of stopping there.
//!
//! MLflow on SQLite sorts runs by a metric through a join whose plan depends
//! on SQLite's table statistics: without them a sorted page of 10,000 runs
//! took MLflow 8 s, with them 60 ms. The bench runs `ANALYZE` on MLflow's
//! database after seeding, as an operator of MLflow on SQLite should (on
//! PostgreSQL, autovacuum keeps the statistics).
//! Run through `bench/run.sh` (ATRIUM_BENCHES=experiments).

#[path = "../tests/common/mod.rs"]
mod common;

use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Mlflow {
    base: String,
    http: reqwest::Client,
}

impl Mlflow {
    async fn post(&self, path: &str, body: Value) -> Value {
        let res = self.http.post(format!("{}{path}", self.base)).header("X-MLFLOW-WORKSPACE", "team-a").json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// A call timed against the portal: answered with success, body read.
    async fn ok_get(&self, path: &str) -> bool {
        answered(
            self.http
                .get(format!("{}{path}", self.base))
                .header("X-MLFLOW-WORKSPACE", "team-a")
                .send()
                .await,
        )
        .await
    }

    async fn ok_post(&self, path: &str, body: Value) -> bool {
        answered(
            self.http
                .post(format!("{}{path}", self.base))
                .header("X-MLFLOW-WORKSPACE", "team-a")
                .json(&body)
                .send()
                .await,
        )
        .await
    }
}

/// What the runs page asks MLflow, sent straight to it.
async fn runs_direct(m: &Mlflow, exp: String, order: &str) -> bool {
    m.ok_get(&format!("/api/2.0/mlflow/experiments/get?experiment_id={exp}")).await
        && m.ok_post("/api/2.0/mlflow/runs/search", json!({ "experiment_ids": [exp], "max_results": 50, "order_by": [order] })).await
}

async fn answered(sent: reqwest::Result<reqwest::Response>) -> bool {
    match sent {
        Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
        Err(_) => false,
    }
}

const EXPERIMENT: &str = "bench-10k";

#[tokio::main]
async fn main() {
    let base = std::env::var("ATRIUM_BENCH_URL").unwrap_or_else(|_| "http://localhost:3101".into());
    let runs = env("ATRIUM_BENCH_RUNS", 10_000);
    let views = env("ATRIUM_BENCH_VIEWS", 50);
    // Another MLflow than the stack's (bench/run.sh starts one on
    // PostgreSQL for ATRIUM_BENCH_MLFLOW=postgres).
    let other = std::env::var("ATRIUM_BENCH_MLFLOW_URL").ok();
    let mlflow = Mlflow {
        base: other.clone().unwrap_or_else(|| common::stack("ATRIUM_MLFLOW__URL")),
        http: reqwest::Client::builder().tcp_nodelay(true).build().unwrap(),
    };
    println!("MLflow at {} on {}", mlflow.base, if other.is_some() { "PostgreSQL" } else { "SQLite" });
    let (id, long, ids) = seed(&mlflow, runs).await;
    match std::env::var("ATRIUM_BENCH_MLFLOW_DB") {
        Ok(url) => analyze_postgres(&url).await,
        Err(_) => analyze_mlflow_database().await,
    }
    // The long run has ended (its chart is then kept by the portal).
    mlflow.post("/api/2.0/mlflow/runs/update", json!({ "run_id": long, "status": "FINISHED", "end_time": 1_800_000_100_000i64 })).await;

    let (client, _jar) = common::browser();
    common::sign_in(&client, &base, "alice", "/").await;
    let page = |path: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let Ok(res) = client.get(format!("{base}{path}")).send().await else {
                return false;
            };
            let ok = res.status() == 200;
            ok && res.bytes().await.is_ok()
        }
    };
    println!("{runs} runs of 20 params and 10 metrics in experiment {id} of team-a; {views} views each, sequential, as alice\n");
    println!(
        "{:<44} {:>9} {:>9}   {:>9} {:>9}   {:>6}   {:>12}   {}",
        "", "portal", "", "MLflow", "", "ratio", "MLflow calls", "failed"
    );
    println!(
        "{:<44} {:>9} {:>9}   {:>9} {:>9}   {:>6}   {:>12}   {}",
        "view", "p50 ms", "p99 ms", "p50 ms", "p99 ms", "p50", "per view", "portal/MLflow"
    );

    let first = format!("/experiments/team-a/{id}");
    let exp = id.clone();
    compare(&base, "runs, first page (newest first)", views, || page(first.clone()), || runs_direct(&mlflow, exp.clone(), "attributes.start_time DESC")).await;
    let sorted = format!("/experiments/team-a/{id}?sort=metrics.m0&dir=desc");
    compare(&base, "runs, sorted by a metric (server-side)", views, || page(sorted.clone()), || runs_direct(&mlflow, exp.clone(), "metrics.`m0` DESC")).await;
    let hundred: Vec<String> = ids.iter().take(100).cloned().collect();
    let query: Vec<String> = hundred.iter().map(|r| format!("run={r}")).collect();
    let cmp = format!("/experiments/team-a/{id}/compare?{}", query.join("&"));
    compare(
        &base,
        "compare 100 runs (10 overlaid histories)",
        views,
        || page(cmp.clone()),
        || {
            let (m, exp, hundred) = (&mlflow, exp.clone(), hundred.clone());
            async move {
                let list = hundred.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", ");
                let q: Vec<String> = hundred.iter().map(|r| format!("run_ids={r}")).collect();
                let paths: Vec<String> = (0..10)
                    .map(|k| {
                        format!(
                            "/api/2.0/mlflow/metrics/get-history-bulk-interval?{}&metric_key=m{k}&max_results=10",
                            q.join("&")
                        )
                    })
                    .collect();
                m.ok_get(&format!("/api/2.0/mlflow/experiments/get?experiment_id={exp}")).await
                    && m.ok_post(
                        "/api/2.0/mlflow/runs/search",
                        json!({ "experiment_ids": [exp], "max_results": 100, "filter": format!("attributes.run_id IN ({list})") }),
                    )
                    .await
                    && futures::future::join_all(paths.iter().map(|p| m.ok_get(p))).await.into_iter().all(|ok| ok)
            }
        },
    )
    .await;
    // The chart of a finished run: the first view of a range asks MLflow
    // (each view here a range not asked before); later views of the same
    // range, and the first view of a run that ended through the gateway,
    // use the history the portal kept.
    let chart = format!("/experiments/team-a/{id}/runs/{long}");
    let fresh = std::sync::atomic::AtomicUsize::new(0);
    let direct_chart = |end: Option<usize>| {
        let (m, exp, long) = (&mlflow, exp.clone(), long.clone());
        async move {
            let end = end.map(|e| format!("&start_step=0&end_step={e}")).unwrap_or_default();
            m.ok_get(&format!("/api/2.0/mlflow/runs/get?run_id={long}")).await
                && m.ok_get(&format!("/api/2.0/mlflow/experiments/get?experiment_id={exp}")).await
                && m.ok_get(&format!(
                    "/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={long}&metric_key=loss&max_results=1000{end}"
                ))
                .await
        }
    };
    let fresh_direct = std::sync::atomic::AtomicUsize::new(0);
    compare(
        &base,
        "run page, 100,000-step chart, first view",
        views,
        || page(format!("{chart}?from=0&to={}", 99_999 - fresh.fetch_add(1, std::sync::atomic::Ordering::Relaxed))),
        || direct_chart(Some(99_999 - fresh_direct.fetch_add(1, std::sync::atomic::Ordering::Relaxed))),
    )
    .await;
    compare(&base, "run page, 100,000-step chart, kept", views, || page(chart.clone()), || direct_chart(None)).await;
    let html = client.get(format!("{base}{chart}")).send().await.unwrap().text().await.unwrap();
    let points: usize = html.split("data-points=\"").skip(1).filter_map(|s| s.split('"').next()?.parse::<usize>().ok()).sum();
    println!("\nthe 100,000-step chart sends {points} points ({} KB of HTML for the whole page)", html.len() / 1024);
}

/// `views` sequential views through the portal, then as many of the same
/// calls straight to MLflow; prints both and the portal's MLflow calls.
async fn compare<P, PF, M, MF>(base: &str, label: &str, views: usize, portal: P, direct: M)
where
    P: Fn() -> PF,
    PF: std::future::Future<Output = bool>,
    M: Fn() -> MF,
    MF: std::future::Future<Output = bool>,
{
    // One of each first: connections open, caches as a person meets them after a first view.
    portal().await;
    direct().await;
    let before = mlflow_calls(base).await;
    let mut p = Vec::with_capacity(views);
    let mut d = Vec::with_capacity(views);
    let (mut portal_failed, mut direct_failed) = (0, 0);
    for _ in 0..views {
        let t = Instant::now();
        portal_failed += usize::from(!portal().await);
        p.push(t.elapsed());
        let t = Instant::now();
        direct_failed += usize::from(!direct().await);
        d.push(t.elapsed());
    }
    let calls = (mlflow_calls(base).await - before) as f64 / views as f64;
    p.sort();
    d.sort();
    let ms = |v: &[Duration], q: f64| v[((v.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
    println!(
        "{label:<44} {:>9.1} {:>9.1}   {:>9.1} {:>9.1}   {:>5.2}x   {calls:>12.1}   {portal_failed}/{direct_failed}",
        ms(&p, 0.5),
        ms(&p, 0.99),
        ms(&d, 0.5),
        ms(&d, 0.99),
        ms(&p, 0.5) / ms(&d, 0.5)
    );
}

/// SQLite's table statistics for MLflow's query planner (see the top).
async fn analyze_mlflow_database() {
    use sqlx::Connection;
    let path = common::stack("STACK_MLFLOW_DB");
    let t = Instant::now();
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await.unwrap();
    sqlx::query("ANALYZE").execute(&mut db).await.unwrap();
    println!("ANALYZE on MLflow's database: {:.1} s", t.elapsed().as_secs_f64());
}

/// PostgreSQL's table statistics after seeding (autovacuum would gather
/// them within minutes; the bench does not wait for it).
async fn analyze_postgres(url: &str) {
    use sqlx::Connection;
    let t = Instant::now();
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("ANALYZE").execute(&mut db).await.unwrap();
    println!("ANALYZE on MLflow's PostgreSQL database: {:.1} s", t.elapsed().as_secs_f64());
}

async fn mlflow_calls(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix("atrium_mlflow_calls_total ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// The bench experiment (made once, kept): its id, the long run's id, and
/// the ids of its newest runs.
async fn seed(m: &Mlflow, runs: usize) -> (String, String, Vec<String>) {
    if m.http.get(format!("{}/api/3.0/mlflow/workspaces/team-a", m.base)).send().await.unwrap().status() == 404 {
        m.http.post(format!("{}/api/3.0/mlflow/workspaces", m.base)).json(&json!({ "name": "team-a" })).send().await.unwrap();
    }
    let found = m.http.get(format!("{}/api/2.0/mlflow/experiments/get-by-name?experiment_name={EXPERIMENT}", m.base)).header("X-MLFLOW-WORKSPACE", "team-a").send().await.unwrap();
    let exp: Value = if found.status().is_success() { found.json().await.unwrap() } else { json!(null) };
    let tags = exp["experiment"]["tags"].as_array().cloned().unwrap_or_default();
    let done = tags.iter().any(|t| t["key"] == "atrium.bench.runs" && t["value"] == runs.to_string().as_str());
    let id = match exp["experiment"]["experiment_id"].as_str() {
        Some(id) => id.to_string(),
        None => m.post("/api/2.0/mlflow/experiments/create", json!({ "name": EXPERIMENT })).await["experiment_id"].as_str().unwrap().to_string(),
    };
    if !done {
        let t = Instant::now();
        let made = futures::stream::iter(0..runs)
            .map(|i| {
                let id = id.clone();
                async move {
                    let run = m.post("/api/2.0/mlflow/runs/create", json!({ "experiment_id": id, "run_name": format!("run-{i:05}"), "start_time": 1_700_000_000_000i64 + i as i64 * 1000 })).await;
                    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
                    let params: Vec<Value> = (0..20).map(|p| json!({ "key": format!("p{p}"), "value": format!("{}", (i * 7 + p) % 13) })).collect();
                    let metrics: Vec<Value> = (0..10).map(|k| json!({ "key": format!("m{k}"), "value": ((i * 31 + k * 17) % 1000) as f64 / 1000.0, "timestamp": 1, "step": 0 })).collect();
                    m.post("/api/2.0/mlflow/runs/log-batch", json!({ "run_id": run_id, "params": params, "metrics": metrics })).await;
                }
            })
            .buffer_unordered(8)
            .count()
            .await;
        let run = m.post("/api/2.0/mlflow/runs/create", json!({ "experiment_id": id, "run_name": "long-history", "start_time": 1_800_000_000_000i64 })).await;
        let long = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
        futures::stream::iter(0..100)
            .map(|b| {
                let long = long.clone();
                async move {
                    let metrics: Vec<Value> = (0..1000).map(|s| {
                        let step = b * 1000 + s;
                        json!({ "key": "loss", "value": 1.0 / (1.0 + step as f64 / 1000.0) + ((step * 7919) % 100) as f64 / 10_000.0, "timestamp": step, "step": step })
                    }).collect();
                    m.post("/api/2.0/mlflow/runs/log-batch", json!({ "run_id": long, "metrics": metrics })).await;
                }
            })
            .buffer_unordered(4)
            .count()
            .await;
        m.post("/api/2.0/mlflow/experiments/set-experiment-tag", json!({ "experiment_id": id, "key": "atrium.bench.runs", "value": runs.to_string() })).await;
        println!("seeded {made} runs and a 100,000-step metric through MLflow's REST API in {:.0} s", t.elapsed().as_secs_f64());
    }
    let long = m.post("/api/2.0/mlflow/runs/search", json!({ "experiment_ids": [id], "max_results": 1, "filter": "attributes.run_name = 'long-history'" })).await;
    let long = long["runs"][0]["info"]["run_id"].as_str().unwrap().to_string();
    let newest = m.post("/api/2.0/mlflow/runs/search", json!({ "experiment_ids": [id], "max_results": 100, "filter": "attributes.run_name != 'long-history'" })).await;
    let ids = newest["runs"].as_array().unwrap().iter().map(|r| r["info"]["run_id"].as_str().unwrap().to_string()).collect();
    (id, long, ids)
}
