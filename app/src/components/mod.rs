//! Building blocks with no application data of their own.

#[cfg(feature = "ssr")]
pub mod plain_page;
pub mod quota_bar;
pub mod error_view;
pub mod field;
pub mod notice;
pub mod reload;
pub mod update_notice;
