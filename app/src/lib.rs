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
pub mod model;
pub mod quantity;
pub mod routes;
pub mod shell;
pub mod teams;
pub mod admin;
pub mod audit;
pub mod notebooks;

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
    Lazy, SsrMode,
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
        <Title formatter=|t: String| if t.is_empty() { "Atrium".to_string() } else { format!("{t} · Atrium") }/>
        <Router>
            <shell::Shell>
                <Routes fallback=|| view! { <components::error_view::NotFoundPage/> }>
                    <Route path=path!("/") view=home::HomePage/>
                    <Route path=path!("/teams") view={Lazy::<routes::Teams>::new()}/>
                    <Route path=path!("/teams/:team") view={Lazy::<routes::Team>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/members") view={Lazy::<routes::TeamMembers>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/quota") view={Lazy::<routes::TeamQuota>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/teams/:team/audit") view={Lazy::<routes::TeamAudit>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view={Lazy::<routes::Admin>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/requests") view={Lazy::<routes::AdminRequests>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/audit") view={Lazy::<routes::AdminAudit>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/catalog") view={Lazy::<routes::AdminCatalog>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks") view={Lazy::<routes::Notebooks>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team") view={Lazy::<routes::TeamNotebooks>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team/new") view={Lazy::<routes::NewNotebook>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/notebooks/:team/:name") view={Lazy::<routes::Notebook>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/experiments") view={Lazy::<routes::Experiments>::new()}/>
                    <Route path=path!("/pipelines") view={Lazy::<routes::Pipelines>::new()}/>
                    <Route path=path!("/models") view={Lazy::<routes::Models>::new()}/>
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
    leptos::mount::hydrate_lazy(App);
}
