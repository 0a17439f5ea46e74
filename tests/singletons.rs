//! Work that must happen once however many replicas run: the idle-notebook
//! culler runs only on the replica holding its Lease on the real API server,
//! and moves to another replica when that one stops renewing.

mod common;

use app::platform::lease::Leadership;
use common::{cluster_admin, start_portal, start_replica, unique};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use std::time::{Duration, Instant};

const LEASE_SECONDS: u64 = 3;

fn leader(p: &common::Portal) -> Leadership {
    p.state.notebooks.culler.get().expect("the culler started").clone()
}

async fn holder_in_cluster(name: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(cluster_admin().await, "atrium");
    leases.get_opt(name).await.unwrap().and_then(|l| l.spec).and_then(|s| s.holder_identity)
}

#[test]
fn the_culler_runs_on_one_replica_and_moves_when_that_one_dies() {
    // Rendering pages in a debug build needs more than the default stack (see src/main.rs).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build().unwrap();
    runtime.block_on(async {
        // Both replicas share one Lease, as every replica of a deployment does.
        let lease = unique("it-culler");
        let shared = |c: &mut app::config::Config| {
            c.notebooks.culler_lease = lease.clone();
            c.notebooks.culler_lease_seconds = LEASE_SECONDS;
        };
        let one = start_portal(0, shared).await;
        let two = start_replica(0, &one, shared).await;
        let (a, b) = (leader(&one), leader(&two));

        let start = Instant::now();
        while !(a.is_held() || b.is_held()) {
            assert!(start.elapsed() < Duration::from_secs(5), "no replica took the culler's lease");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Exactly one holds it, and keeps it while it renews.
        for _ in 0..30 {
            assert!(!(a.is_held() && b.is_held()), "both replicas believe they run the culler");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (gone, other) = if a.is_held() { (a, b) } else { (b, a) };
        assert!(gone.is_held() && !other.is_held());
        assert_eq!(holder_in_cluster(&lease).await.as_deref(), Some(gone.identity.as_str()), "the Lease names the holder");

        // The holder dies (stops renewing): the other takes over once the lease runs out.
        gone.stop();
        let died = Instant::now();
        while !other.is_held() {
            assert!(died.elapsed() < Duration::from_secs(LEASE_SECONDS * 3), "the culler did not move to the other replica");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(died.elapsed() >= Duration::from_secs(LEASE_SECONDS - 1), "not taken before the lease ran out");
        assert_eq!(holder_in_cluster(&lease).await.as_deref(), Some(other.identity.as_str()));
        other.stop();
        let leases: Api<Lease> = Api::namespaced(cluster_admin().await, "atrium");
        leases.delete(&lease, &Default::default()).await.unwrap();
    });
}
