//! The models pages, one file each: the registered models of the person's
//! teams (or one team's), and one model.

mod detail;
mod list;

pub use detail::ModelPage;
pub use list::{ModelsPage, TeamModelsPage};
