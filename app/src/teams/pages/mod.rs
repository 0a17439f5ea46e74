//! The team pages, one file each: the person's teams, a team's overview,
//! its members and its quota (a team's audit trail is `audit`'s page).

mod list;
mod members;
mod overview;
mod quota;
mod shared;

pub use list::TeamsPage;
pub use members::MembersPage;
pub use overview::TeamPage;
pub use quota::QuotaPage;
pub use shared::{TeamList, TeamTabs};
