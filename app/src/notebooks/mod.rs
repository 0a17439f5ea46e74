//! Notebooks: a data scientist creates, watches, opens, stops and deletes
//! notebooks in their teams. Pages (`pages/`, one file each; the catalog
//! page is an admin page) and shared types here; the Kubernetes
//! side (`index`, `ops`, `manifest`, `status`) and the endpoints that are
//! not pages (`live`; `handover`, `origin` and `proxy` for opening a
//! notebook on its own origin) are server-only.

pub mod api;
pub mod catalog;
pub mod connections;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod handover;
#[cfg(feature = "ssr")]
pub mod index;
#[cfg(feature = "ssr")]
pub mod kubeflow;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod manifest;
#[cfg(feature = "ssr")]
pub mod ops;
#[cfg(feature = "ssr")]
pub mod origin;
#[cfg(feature = "ssr")]
pub mod proxy;
#[cfg(feature = "ssr")]
pub mod status;
