//! A replica's life after SIGTERM (`src/main.rs`):
//! 1. **draining** — `/readyz` answers 503 so load balancers and Kubernetes
//!    stop sending new people here, while everything still works;
//! 2. **stopping** — live streams and notebook WebSockets end cleanly (the
//!    browser reconnects, to another replica), no new connection is taken,
//!    in-flight requests finish within the grace period, and the process exits.

use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Serving,
    Draining,
    Stopping,
}

#[derive(Clone)]
pub struct Lifecycle {
    phase: watch::Sender<Phase>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle { phase: watch::Sender::new(Phase::Serving) }
    }
}

impl Lifecycle {
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    pub fn drain(&self) {
        self.phase.send_if_modified(|p| std::mem::replace(p, (*p).max(Phase::Draining)) != *p);
    }

    pub fn stop(&self) {
        self.phase.send_replace(Phase::Stopping);
    }

    /// Resolves once the replica is stopping (at once if it already is).
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.phase.subscribe();
        async move {
            let _ = rx.wait_for(|p| *p == Phase::Stopping).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_only_move_forward_and_stopping_wakes_waiters() {
        let life = Lifecycle::default();
        let waiting = tokio::spawn(life.stopping());
        life.drain();
        assert_eq!(life.phase(), Phase::Draining);
        assert!(!waiting.is_finished());
        life.stop();
        life.drain();
        assert_eq!(life.phase(), Phase::Stopping, "never back to draining");
        tokio::time::timeout(std::time::Duration::from_secs(1), waiting).await.unwrap().unwrap();
        life.stopping().await;
    }
}
