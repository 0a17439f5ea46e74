//! The experiments pages, one file each: the experiments of the person's
//! teams (or one team's), one experiment's runs, and one run.

mod compare;
mod hover;
mod list;
mod run;
mod runs;

pub use compare::ComparePage;
pub use list::{ExperimentsPage, TeamExperimentsPage};
pub use run::RunPage;
pub use runs::ExperimentPage;
