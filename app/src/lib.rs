#![recursion_limit = "256"]
//! Atrium's pages, components and server functions. Areas mirror the
//! navigation (`notebooks/`, `teams/`, `admin/`, …); `platform/` holds the
//! server-only adapters to Kubernetes and the database.

pub mod access;
pub mod auth;
pub mod components;
pub mod error;
pub mod experiments;
pub mod home;
pub mod identity;
pub mod model;
pub mod quantity;
pub mod navigation;
pub mod shell;
pub mod teams;
pub mod admin;
pub mod audit;
pub mod notebooks;
pub mod models;
pub mod pipelines;

#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod lifecycle;
#[cfg(feature = "ssr")]
pub mod platform;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = format!("/{}/atrium.css", options.site_pkg_dir);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="stylesheet" href=stylesheet/>
                <HydrationScripts options islands=true/>
                <script inner_html=navigation::SCRIPT></script>
                <MetaTags/>
            </head>
            <body class="page-bg">
                <App/>
                <navigation::HydrationMarker/>
            </body>
        </html>
    }
}

/// The pages. Every page is rendered on the server; only islands (`#[island]`,
/// the interactive parts) are compiled to WASM, and an area's islands are
/// downloaded when a page that shows one is first opened
/// (docs/decisions/0013-per-area-code-loading.md).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|t: String| if t.is_empty() { "Atrium".to_string() } else { format!("{t} · Atrium") }/>
        <Router>
            <shell::Shell>
                <Routes fallback=|| view! { <components::error_view::NotFoundPage/> }>
                    <Route path=path!("/") view=home::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/teams") view=teams::pages::TeamsPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team") view=teams::pages::TeamPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/members") view=teams::pages::MembersPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/quota") view=teams::pages::QuotaPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/audit") view=audit::pages::TeamAuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=admin::pages::AdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/requests") view=admin::pages::RequestsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/audit") view=audit::pages::AdminAuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/catalog") view=admin::pages::CatalogPage ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks") view=notebooks::pages::NotebooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team") view=notebooks::pages::TeamNotebooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team/new") view=notebooks::pages::NewNotebookPage ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team/:name") view=notebooks::pages::NotebookPage ssr=SsrMode::Async/>
                    <Route path=path!("/experiments") view=experiments::pages::ExperimentsPage ssr=SsrMode::Async/>
                    <Route path=path!("/experiments/:team") view=experiments::pages::TeamExperimentsPage ssr=SsrMode::Async/>
                    <Route path=path!("/experiments/:team/:id") view=experiments::pages::ExperimentPage ssr=SsrMode::Async/>
                    <Route path=path!("/experiments/:team/:id/compare") view=experiments::pages::ComparePage ssr=SsrMode::Async/>
                    <Route path=path!("/experiments/:team/:id/runs/:run") view=experiments::pages::RunPage ssr=SsrMode::Async/>
                    <Route path=path!("/pipelines") view=pipelines::pages::PipelinesPage ssr=SsrMode::Async/>
                    <Route path=path!("/pipelines/:team") view=pipelines::pages::TeamPipelinesPage ssr=SsrMode::Async/>
                    <Route path=path!("/pipelines/:team/new") view=pipelines::pages::NewPipelinePage ssr=SsrMode::Async/>
                    <Route path=path!("/pipelines/:team/runs") view=pipelines::pages::RunsPage ssr=SsrMode::Async/>
                    <Route path=path!("/pipelines/:team/runs/:run") view=pipelines::pages::RunPage ssr=SsrMode::Async/>
                    <Route path=path!("/pipelines/:team/p/:name") view=pipelines::pages::PipelinePage ssr=SsrMode::Async/>
                    <Route path=path!("/models") view=models::pages::ModelsPage ssr=SsrMode::Async/>
                    <Route path=path!("/models/:team") view=models::pages::TeamModelsPage ssr=SsrMode::Async/>
                    <Route path=path!("/models/:team/:name") view=models::pages::ModelPage ssr=SsrMode::Async/>
                </Routes>
            </shell::Shell>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        components::update_notice::show(&info.to_string());
    }));
    components::update_notice::note_navigation();
    // A link an MLflow client printed: on to the run it names.
    if let Some(location) = web_sys::window().map(|w| w.location())
        && let (Ok(path), Ok(fragment)) = (location.pathname(), location.hash())
        && let Some(to) = experiments::model::mlflow_link_target(&path, &fragment)
    {
        let _ = location.replace(&to);
        return;
    }
    leptos::mount::hydrate_islands();
}
