//! Load on the home page of a signed-in user, on loopback: response time
//! (p50, p99), requests per second, and Kubernetes API calls per page view.
//! Run through `bench/run.sh`, which starts a release build of the portal.
//! Bounded: ATRIUM_BENCH_REQUESTS (default 3000) at ATRIUM_BENCH_CONCURRENCY
//! (default 8), and never longer than 120 s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let base = std::env::var("ATRIUM_BENCH_URL").unwrap_or_else(|_| "http://localhost:3101".into());
    let total: usize = env_or("ATRIUM_BENCH_REQUESTS", 3000);
    let concurrency: usize = env_or("ATRIUM_BENCH_CONCURRENCY", 8);
    let (client, _jar) = common::browser();
    let (_, res) = common::sign_in(&client, &base, "alice", "/").await;
    assert_eq!(res.status(), 303, "signed in");
    // Warm up (and fill the per-session access cache).
    for _ in 0..20 {
        assert_eq!(client.get(format!("{base}/")).send().await.unwrap().status(), 200);
    }
    let calls_before = common::kube_calls(&base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = Instant::now();
    let per_task = total / concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    if Instant::now() > deadline {
                        break;
                    }
                    let t = Instant::now();
                    let res = client.get(format!("{base}/")).send().await.expect("request");
                    assert_eq!(res.status(), 200);
                    res.bytes().await.expect("body");
                    times.push(t.elapsed());
                }
                times
            })
        })
        .collect();
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    let calls = common::kube_calls(&base).await - calls_before;
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    println!("home page, signed in as alice, {} requests at concurrency {concurrency}", times.len());
    println!("  p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms", pct(0.5), pct(0.99), pct(1.0));
    println!("  {:.0} requests/s", times.len() as f64 / wall.as_secs_f64());
    println!("  {:.2} Kubernetes API calls per page view", calls as f64 / times.len() as f64);
}

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
