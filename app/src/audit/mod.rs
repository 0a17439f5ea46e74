//! The audit trail: every change made through the portal, who made it, to
//! what, and how it ended. Writing the entry is part of the action
//! (`server`, server-only); `trail` reads it back for the pages (`pages/`,
//! one file each) and the CSV export.

pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod trail;

pub use crate::model::audit::{AuditEntry, AuditFilter, Outcome};
pub use trail::{GetAudit, format_time, get_audit, to_csv};
