//! The audit pages, one file each: a team's trail (a team tab) and every
//! team's trail (an admin tab), both showing the same filtered table.

mod admin;
mod team;
mod trail;

pub use admin::AdminAuditPage;
pub use team::TeamAuditPage;
