//! Adapters to the systems behind the portal: Kubernetes and the database.
//! Server-only; components never reach in here.

pub mod access;
pub mod audit_store;
pub mod db;
pub mod grants_store;
pub mod kube;
pub mod people_store;
pub mod requests_store;
pub mod tokens;
