//! Pipelines: a team's Argo Workflows, authored and run in the portal
//! (decision 0016). A saved pipeline is a `WorkflowTemplate` in the team's
//! namespace, a run is a `Workflow` referring to it; both are written as the
//! signed-in person, and the real Argo controller runs them.

pub mod api;
#[cfg(feature = "ssr")]
pub mod archive;
#[cfg(feature = "ssr")]
pub mod cron;
pub mod diagram;
#[cfg(feature = "ssr")]
pub mod elyra;
#[cfg(feature = "ssr")]
pub mod index;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod retry;
pub mod schedules;
pub mod templates;
#[cfg(feature = "ssr")]
pub mod workflow;
