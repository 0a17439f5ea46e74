//! The admin area's pages, one file each.

pub mod catalog;
pub mod requests;
mod tabs;
mod team_row;
pub mod teams;

pub use catalog::CatalogPage;
pub use requests::RequestsPage;
pub use tabs::AdminTabs;
pub use teams::AdminPage;
