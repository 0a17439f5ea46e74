//! Platform administration: every team at a glance, quota requests, the
//! notebook catalog (the audit trail is `audit`'s). Server functions in
//! `teams.rs` and `requests.rs`, pages in `pages/`, Kubernetes work in
//! `server.rs`.

pub mod pages;
pub mod requests;
pub mod teams;
#[cfg(feature = "ssr")]
pub mod server;

pub use pages::AdminTabs;
pub use teams::*;

/// Refuses unless Kubernetes lets this person create namespaces (platform admins).
#[cfg(feature = "ssr")]
pub async fn require_platform_admin(client: &crate::platform::kube::UserClient) -> Result<(), crate::error::AppError> {
    if crate::platform::access::may(client, "", "namespaces", "create", None).await? {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden("Only platform admins can do this.".into()))
    }
}
