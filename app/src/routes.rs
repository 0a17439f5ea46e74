//! The route table's lazy entries. The frame (shell, home, sign-in, errors) is
//! in the core bundle; each area's pages sit behind ONE split point per area
//! (`#[lazy]` functions below), so a release build split at these points
//! (`scripts/build-site.sh`) downloads an area's code only when one of its
//! pages is visited, in a few files rather than one set per page.
//! See docs/decisions/0013-per-area-code-loading.md.

use leptos::prelude::*;
use leptos_router::LazyRoute;

/// The pages of the teams area (a team's overview, members, quota, audit).
#[derive(Clone, Copy)]
pub enum TeamsPage {
    List,
    Overview,
    Members,
    Quota,
    Audit,
}

#[lazy]
fn teams_area(page: TeamsPage) -> AnyView {
    use crate::teams::pages;
    match page {
        TeamsPage::List => view! { <pages::TeamsPage/> }.into_any(),
        TeamsPage::Overview => view! { <pages::TeamPage/> }.into_any(),
        TeamsPage::Members => view! { <pages::MembersPage/> }.into_any(),
        TeamsPage::Quota => view! { <pages::QuotaPage/> }.into_any(),
        TeamsPage::Audit => view! { <crate::audit::pages::TeamAuditPage/> }.into_any(),
    }
}

/// The pages of the platform admin's area.
#[derive(Clone, Copy)]
pub enum AdminPage {
    Teams,
    Requests,
    Audit,
    Catalog,
}

#[lazy]
fn admin_area(page: AdminPage) -> AnyView {
    use crate::admin;
    match page {
        AdminPage::Teams => view! { <admin::pages::AdminPage/> }.into_any(),
        AdminPage::Requests => view! { <admin::pages::RequestsPage/> }.into_any(),
        AdminPage::Audit => view! { <crate::audit::pages::AdminAuditPage/> }.into_any(),
        AdminPage::Catalog => view! { <admin::pages::CatalogPage/> }.into_any(),
    }
}

/// The pages of the notebooks area.
#[derive(Clone, Copy)]
pub enum NotebooksPage {
    All,
    Team,
    New,
    One,
}

#[lazy]
fn notebooks_area(page: NotebooksPage) -> AnyView {
    use crate::notebooks::pages;
    match page {
        NotebooksPage::All => view! { <pages::NotebooksPage/> }.into_any(),
        NotebooksPage::Team => view! { <pages::TeamNotebooksPage/> }.into_any(),
        NotebooksPage::New => view! { <pages::NewNotebookPage/> }.into_any(),
        NotebooksPage::One => view! { <pages::NotebookPage/> }.into_any(),
    }
}

#[lazy]
fn experiments_area() -> AnyView {
    view! { <crate::areas::ExperimentsPage/> }.into_any()
}

#[lazy]
fn pipelines_area() -> AnyView {
    view! { <crate::areas::PipelinesPage/> }.into_any()
}

#[lazy]
fn models_area() -> AnyView {
    view! { <crate::areas::ModelsPage/> }.into_any()
}

/// A route type per page, each loading its area: `route!(Type => call, preload)`.
macro_rules! route {
    ($name:ident => $call:expr, $preload:ident) => {
        pub struct $name;

        impl LazyRoute for $name {
            fn data() -> Self {
                Self
            }

            async fn view(_this: Self) -> AnyView {
                $call.await
            }

            async fn preload() {
                #[cfg(feature = "hydrate")]
                $preload().await;
            }
        }
    };
}

route!(Teams => teams_area(TeamsPage::List), __preload_teams_area);
route!(Team => teams_area(TeamsPage::Overview), __preload_teams_area);
route!(TeamMembers => teams_area(TeamsPage::Members), __preload_teams_area);
route!(TeamQuota => teams_area(TeamsPage::Quota), __preload_teams_area);
route!(TeamAudit => teams_area(TeamsPage::Audit), __preload_teams_area);
route!(Admin => admin_area(AdminPage::Teams), __preload_admin_area);
route!(AdminRequests => admin_area(AdminPage::Requests), __preload_admin_area);
route!(AdminAudit => admin_area(AdminPage::Audit), __preload_admin_area);
route!(AdminCatalog => admin_area(AdminPage::Catalog), __preload_admin_area);
route!(Notebooks => notebooks_area(NotebooksPage::All), __preload_notebooks_area);
route!(TeamNotebooks => notebooks_area(NotebooksPage::Team), __preload_notebooks_area);
route!(NewNotebook => notebooks_area(NotebooksPage::New), __preload_notebooks_area);
route!(Notebook => notebooks_area(NotebooksPage::One), __preload_notebooks_area);
route!(Experiments => experiments_area(), __preload_experiments_area);
route!(Pipelines => pipelines_area(), __preload_pipelines_area);
route!(Models => models_area(), __preload_models_area);
