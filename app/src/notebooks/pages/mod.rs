//! The notebook pages, one file each: the live list (all the person's teams
//! or one), the create form, and one notebook. The catalog that platform
//! admins edit is an admin page (`admin::catalog`).

mod detail;
mod follow;
mod list;
mod new;
mod row;

pub use detail::NotebookPage;
pub use list::{NotebooksPage, PAGE, TeamNotebooksPage};
pub use new::NewNotebookPage;
