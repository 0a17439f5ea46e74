//! Adapters to the systems behind the portal: Kubernetes and the database.
//! Server-only; components never reach in here.

pub mod access;
mod answers;
pub mod audit_store;
pub mod db;
pub mod grants_store;
pub mod kube;
pub mod lease;
pub mod metrics;
pub mod people_store;
pub mod prefs_store;
mod rbac_watch;
pub mod promotions_store;
pub mod requests_store;
pub mod tokens;

#[cfg(test)]
mod layering;
