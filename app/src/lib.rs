#![recursion_limit = "256"]
//! Atrium's pages, components and server functions. Areas mirror the
//! navigation (`notebooks/`, `teams/`, `admin/`, …); `platform/` holds the
//! server-only adapters to Kubernetes and the database.

pub mod access;
pub mod areas;
pub mod auth;
pub mod components;
pub mod error;
pub mod home;
pub mod identity;
pub mod quantity;
pub mod shell;
pub mod teams;
pub mod admin;
pub mod audit;
pub mod notebooks;

#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod platform;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="page-bg">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page interactive once the WASM has hydrated it (tests wait for it).
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="atrium" href="/pkg/atrium.css"/>
        <Title formatter=|t: String| if t.is_empty() { "Atrium".to_string() } else { format!("{t} · Atrium") }/>
        <Router>
            <shell::Shell>
                <Routes fallback=|| view! { <components::error_view::NotFoundPage/> }>
                    <Route path=path!("/") view=home::HomePage/>
                    <Route path=path!("/teams") view=teams::TeamsPage/>
                    <Route path=path!("/teams/:team") view=teams::TeamPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/members") view=teams::members::MembersPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/quota") view=teams::quota::QuotaPage ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/audit") view=audit::TeamAuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=admin::AdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/requests") view=admin::requests::RequestsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/audit") view=audit::AdminAuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/catalog") view=notebooks::pages::CatalogPage ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks") view=notebooks::pages::NotebooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team") view=notebooks::pages::TeamNotebooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team/new") view=notebooks::pages::NewNotebookPage ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team/:name") view=notebooks::pages::NotebookPage ssr=SsrMode::Async/>
                    <Route path=path!("/experiments") view=areas::ExperimentsPage/>
                    <Route path=path!("/pipelines") view=areas::PipelinesPage/>
                    <Route path=path!("/models") view=areas::ModelsPage/>
                </Routes>
            </shell::Shell>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
