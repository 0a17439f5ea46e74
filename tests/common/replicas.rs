//! Several portal processes on one PostgreSQL behind the real HAProxy, as
//! `scripts/replicas.sh` runs them: round robin, no stickiness.

use super::{Binary, unique};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// HAProxy with `deploy/local/haproxy/haproxy.cfg` in front of three
/// replicas; stopped when dropped.
pub struct LoadBalancer {
    child: Child,
    pub base: String,
}

fn haproxy() -> String {
    ["haproxy", "/usr/sbin/haproxy"]
        .into_iter()
        .find(|p| Command::new(p).arg("-v").stdout(Stdio::null()).status().is_ok_and(|s| s.success()))
        .expect("HAProxy is installed (scripts/install-system-deps.sh)")
        .to_string()
}

impl LoadBalancer {
    /// Listens on `port` (where Keycloak sends people back, for a sign-in);
    /// waits until every replica passed its readiness check.
    pub async fn start(port: u16, replicas: [u16; 3]) -> LoadBalancer {
        let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/local/haproxy/haproxy.cfg");
        let mut cmd = Command::new(haproxy());
        cmd.arg("-f").arg(cfg).arg("-db").env("ATRIUM_LB_LISTEN", format!("127.0.0.1:{port}"));
        for (i, p) in replicas.iter().enumerate() {
            cmd.env(format!("ATRIUM_REPLICA_{}", i + 1), format!("127.0.0.1:{p}"));
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("HAProxy starts");
        let base = format!("http://localhost:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < replicas.len() {
            assert!(child.try_wait().unwrap().is_none(), "HAProxy exited at start; is port {port} busy?");
            assert!(started.elapsed() < Duration::from_secs(30), "HAProxy did not reach every replica (saw {seen:?})");
            if let Ok(res) = client.get(format!("{base}/readyz")).send().await
                && res.status() == 200
            {
                seen.extend(served_by(&res));
            } else {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        LoadBalancer { child, base }
    }
}

impl Drop for LoadBalancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The replica that answered (r1, r2, r3), as HAProxy names it.
pub fn served_by(res: &reqwest::Response) -> Option<String> {
    res.headers().get("x-atrium-replica").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The settings every replica of one set-up shares: its database, the
/// address people use (the load balancer's), and its singletons' Lease.
pub struct Shared {
    pub database_url: String,
    pub public_url: String,
    pub lease: String,
}

impl Shared {
    pub fn new(database_url: String, lb_port: u16) -> Shared {
        Shared { database_url, public_url: format!("http://localhost:{lb_port}"), lease: unique("it-replicas") }
    }

    /// One replica of `exe` on `port`.
    pub async fn replica(&self, exe: &Path, port: u16) -> Binary {
        let extra = [
            ("ATRIUM_DATABASE_URL", self.database_url.as_str()),
            ("ATRIUM_PUBLIC_URL", self.public_url.as_str()),
            ("ATRIUM_NOTEBOOKS__CULLER_LEASE", self.lease.as_str()),
            ("ATRIUM_SHUTDOWN_DRAIN_SECONDS", "2"),
        ];
        Binary::start_exe(exe, port, &extra, Stdio::null()).await
    }
}

/// This build of the portal.
pub fn current() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_atrium"))
}

/// The earlier release's binary (`scripts/earlier-release.sh`, run by `./test.sh`).
pub fn earlier() -> std::path::PathBuf {
    let path = std::env::var("ATRIUM_TEST_EARLIER_BINARY")
        .expect("ATRIUM_TEST_EARLIER_BINARY must name an earlier release's binary (./test.sh builds it with scripts/earlier-release.sh)");
    assert!(Path::new(&path).is_file(), "no earlier release at {path}");
    path.into()
}

/// Stops a replica as Kubernetes does in a rollout (SIGTERM, then waits for it to exit).
pub fn stop(mut replica: Binary) {
    assert!(Command::new("kill").args(["-TERM", &replica.child.id().to_string()]).status().unwrap().success());
    let started = Instant::now();
    while replica.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "the replica did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
}
