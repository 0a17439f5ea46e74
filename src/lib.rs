//! The Atrium server: wires configuration, the Kubernetes gateway, the
//! identity provider, sessions and the Leptos app into one axum router.

pub mod health;
pub mod middleware;
pub mod rate_limit;
pub mod router;
pub mod telemetry;

pub use router::{StartError, build};
