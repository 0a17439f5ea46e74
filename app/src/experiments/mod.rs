//! Experiments: a team's MLflow runs, browsed, searched and compared in the
//! portal, which is MLflow's gateway (decision 0015). One MLflow workspace
//! per team namespace; every call allowed by Kubernetes RBAC first.

pub mod api;
#[cfg(feature = "ssr")]
pub mod artifacts;
#[cfg(feature = "ssr")]
pub mod chart;
#[cfg(feature = "ssr")]
pub mod gateway;
#[cfg(feature = "ssr")]
pub mod mlflow;
pub mod model;
pub mod pages;
