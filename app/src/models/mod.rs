//! Models: a team's registered models (the MLflow registry of its
//! workspace, decision 0015) and their deployments, KServe
//! `InferenceService`s in the team's namespace written as the person and
//! run by KServe's own controller (decision 0018).

pub mod api;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod registry;
#[cfg(feature = "ssr")]
pub mod serving;
