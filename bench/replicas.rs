//! Three replicas behind HAProxy (`scripts/replicas.sh up`), 64 people for
//! 60 s, each loading the home page and the notebooks page in turn, while
//! replica 2 is restarted as a rollout would (SIGTERM, drain, start again)
//! 20 s in: throughput, p50/p99 per page, errors, requests per second over
//! time (a chart in text), and each replica's resident memory before and
//! after. Run by `ATRIUM_BENCHES=replicas bench/run.sh`.
//! ATRIUM_BENCH_USERS (64), ATRIUM_BENCH_SECONDS (60),
//! ATRIUM_BENCH_RESTART_AT (20; 0: no restart).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

struct Answer {
    at: Duration,
    page: usize,
    took: Duration,
    ok: bool,
    what: String,
}

const PAGES: [&str; 2] = ["/", "/notebooks"];

fn rss() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".stack/replicas");
    (1..=3)
        .map(|n| {
            let kib = std::fs::read_to_string(dir.join(format!("replica-{n}.pid")))
                .ok()
                .and_then(|pid| std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).ok())
                .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").to_string())))
                .and_then(|v| v.parse::<f64>().ok());
            kib.map_or("-".into(), |k| format!("r{n} {:.1} MiB", k / 1024.0))
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let base = std::env::var("ATRIUM_BENCH_URL").unwrap_or_else(|_| "http://localhost:3000".into());
    let users: usize = env_or("ATRIUM_BENCH_USERS", 64);
    let seconds: u64 = env_or("ATRIUM_BENCH_SECONDS", 60);
    let restart_at: u64 = env_or("ATRIUM_BENCH_RESTART_AT", 20);
    println!("resident memory, idle: {}", rss().join(", "));
    let people = ["alice", "dave", "maria", "tom"];
    let mut clients = Vec::new();
    for i in 0..users {
        let (client, jar) = common::browser();
        common::sign_in(&client, &base, people[i % people.len()], "/").await;
        clients.push((client, jar));
    }
    // Warm up every replica's caches for every person.
    for (client, _) in &clients {
        for page in PAGES {
            assert_eq!(client.get(format!("{base}{page}")).send().await.unwrap().status(), 200);
        }
    }
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, (client, _))| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut page = i % PAGES.len();
                while Instant::now() < end {
                    let t = Instant::now();
                    let res = client.get(format!("{base}{}", PAGES[page])).send().await;
                    let (ok, what) = match res {
                        Ok(res) => {
                            let status = res.status();
                            let body = res.bytes().await;
                            (status == 200 && body.is_ok(), format!("{status}"))
                        }
                        Err(e) => (false, e.to_string()),
                    };
                    answers.push(Answer { at: t - started, page, took: t.elapsed(), ok, what });
                    page = (page + 1) % PAGES.len();
                }
                answers
            })
        })
        .collect();
    let restart = (restart_at > 0).then(|| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(restart_at)).await;
            let t = Instant::now();
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/replicas.sh");
            let out = tokio::task::spawn_blocking(move || std::process::Command::new("bash").arg(script).args(["restart", "2"]).output())
                .await
                .unwrap()
                .unwrap();
            assert!(out.status.success(), "restart: {}", String::from_utf8_lossy(&out.stderr));
            t.elapsed()
        })
    });
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    println!("{users} people, {:.0} s, three replicas behind HAProxy on this machine", wall.as_secs_f64());
    if let Some(r) = restart {
        println!("replica 2 restarted at {restart_at} s (SIGTERM, drain, exit, start, ready: {:.1} s)", r.await.unwrap().as_secs_f64());
    }
    println!("  {} page loads, {:.0} per second", answers.len(), answers.len() as f64 / wall.as_secs_f64());
    for (p, page) in PAGES.iter().enumerate() {
        let mut times: Vec<Duration> = answers.iter().filter(|a| a.page == p && a.ok).map(|a| a.took).collect();
        times.sort();
        let pct = |q: f64| times.get(((times.len().max(1) - 1) as f64 * q) as usize).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        println!("  {page:<11} {:>6} loads   p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms", times.len(), pct(0.5), pct(0.99), pct(1.0));
    }
    let errors: Vec<&Answer> = answers.iter().filter(|a| !a.ok).collect();
    println!("  errors: {}", errors.len());
    for e in errors.iter().take(10) {
        println!("    at {:.1} s {}: {}", e.at.as_secs_f64(), PAGES[e.page], e.what);
    }
    // Page loads per second over the run, as bars.
    let mut per_second = vec![0usize; seconds as usize + 1];
    for a in &answers {
        per_second[(a.at.as_secs() as usize).min(seconds as usize)] += 1;
    }
    let top = *per_second.iter().max().unwrap_or(&1).max(&1);
    println!("  page loads per second:");
    for (s, n) in per_second.iter().enumerate().take(seconds as usize) {
        let mark = if restart_at > 0 && s as u64 == restart_at { " <- restart" } else { "" };
        println!("    {s:>3} s {:>4} {}{mark}", n, "#".repeat(n * 50 / top));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("resident memory, after: {}", rss().join(", "));
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
