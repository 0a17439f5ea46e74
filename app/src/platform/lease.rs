//! Work that must run on one replica at a time (the idle-notebook culler)
//! is guarded by a Kubernetes `Lease` (coordination.k8s.io) in the portal's
//! namespace, taken and renewed with the portal's own identity. A replica
//! that stops renewing loses it after `duration`; another takes it over.
//! Every write carries the resourceVersion just read, so two replicas never
//! both believe they hold it. As in client-go's leader election, a lease is
//! expired when its record has not changed for its duration as this replica
//! has watched it, whatever the clocks of other replicas say.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether this replica holds a lease now; cheap to ask.
#[derive(Clone)]
pub struct Leadership {
    held: Arc<AtomicBool>,
    pub identity: String,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Leadership {
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::Relaxed)
    }

    /// Stops renewing (shutdown; tests simulate a replica that dies). The
    /// lease is not released: the next holder waits until it expires.
    pub fn stop(&self) {
        self.task.abort();
        self.held.store(false, Ordering::Relaxed);
    }
}

/// Starts taking and renewing lease `name` in `namespace` for as long as the
/// runtime lives; renews three times per `duration`.
pub fn follow(client: kube::Client, namespace: &str, name: &str, duration: Duration) -> Leadership {
    let identity = format!("{}-{}-{}", hostname(), std::process::id(), crate::platform::tokens::random_token().get(..8).unwrap_or("0"));
    let held = Arc::new(AtomicBool::new(false));
    let api: Api<Lease> = Api::namespaced(client, namespace);
    let (flag, me, name) = (held.clone(), identity.clone(), name.to_string());
    let task = tokio::spawn(async move {
        let mut logged = None;
        let mut seen = None;
        loop {
            let now = time::OffsetDateTime::now_utc();
            let outcome = round(&api, &name, &me, duration, now, &mut seen).await;
            let holding = matches!(outcome, Ok(true));
            flag.store(holding, Ordering::Relaxed);
            if logged != Some(holding) {
                match &outcome {
                    Ok(true) => tracing::info!(lease = %name, identity = %me, "holding the lease"),
                    Ok(false) => tracing::info!(lease = %name, identity = %me, "another replica holds the lease"),
                    Err(e) => tracing::warn!(lease = %name, error = %e, "cannot take or renew the lease"),
                }
                logged = Some(holding);
            }
            tokio::time::sleep(duration / 3).await;
        }
    });
    Leadership { held, identity, task: Arc::new(task) }
}

/// One look at the lease: take it if free or expired, renew it if ours.
/// `Ok(true)` when this replica holds it afterwards.
async fn round(
    api: &Api<Lease>,
    name: &str,
    me: &str,
    duration: Duration,
    now: time::OffsetDateTime,
    seen: &mut Option<(String, std::time::Instant)>,
) -> kube::Result<bool> {
    let Some(mut lease) = api.get_opt(name).await? else {
        let fresh = Lease {
            metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
            spec: Some(spec(me, duration, now, now, 0)),
        };
        return match api.create(&PostParams::default(), &fresh).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let current = lease.spec.clone().unwrap_or_default();
    let holder = current.holder_identity.as_deref().unwrap_or_default();
    // Expiry is judged by this replica's own clock: how long the record has
    // stood unchanged since it was first seen, not the holder's timestamps
    // (replicas' clocks differ).
    let record = format!("{holder}@{:?}", current.renew_time.as_ref().map(|t| t.0));
    let since = match seen {
        Some((r, at)) if *r == record => *at,
        _ => {
            *seen = Some((record, std::time::Instant::now()));
            std::time::Instant::now()
        }
    };
    let lasts = Duration::from_secs(current.lease_duration_seconds.unwrap_or(0).max(0) as u64);
    let expired = since.elapsed() >= lasts;
    let spec_now = if holder == me {
        let acquired = current.acquire_time.map(|t| time_of(t.0)).unwrap_or(now);
        spec(me, duration, acquired, now, current.lease_transitions.unwrap_or(0))
    } else if holder.is_empty() || expired {
        spec(me, duration, now, now, current.lease_transitions.unwrap_or(0) + 1)
    } else {
        return Ok(false);
    };
    lease.spec = Some(spec_now);
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        // Someone else wrote it since we read it: theirs, this round.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

fn spec(me: &str, duration: Duration, acquired: time::OffsetDateTime, renewed: time::OffsetDateTime, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(me.to_string()),
        lease_duration_seconds: Some(duration.as_secs().max(1) as i32),
        acquire_time: Some(MicroTime(timestamp(acquired))),
        renew_time: Some(MicroTime(timestamp(renewed))),
        lease_transitions: Some(transitions),
        ..Default::default()
    }
}

fn timestamp(t: time::OffsetDateTime) -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::from_nanosecond(t.unix_timestamp_nanos()).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

fn time_of(t: k8s_openapi::jiff::Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "atrium".into())
    })
}
