//! Moving between pages without reloading the app, and the few things an
//! island needs from it. The script (`app/js/navigation.js`) swaps in the
//! next page's server-rendered `<main>` and hydrates the islands it brought;
//! islands change page with [`go`] and stop their live streams on [`on_leave`].

use leptos::prelude::*;

/// The page-to-page navigation script, inlined in every page's head.
pub const SCRIPT: &str = include_str!("../js/navigation.js");

/// The last island of every page: marks the body `data-hydrated` once every
/// island before it is interactive (islands hydrate in document order, each
/// after its area's code arrived). Tests and people can act from then on.
#[island]
pub fn HydrationMarker() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

/// Opens another page of the portal, as a link to it would.
pub fn go(href: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let window = window();
        let go = js_sys::Reflect::get(&window, &"__atriumGo".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match go {
            Some(go) => {
                let _ = go.call1(&window, &href.into());
            }
            None => {
                let _ = window.location().set_href(href);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}

/// Runs `stop` when the person leaves this page for another one (islands are
/// not dropped when their page is swapped out, so live streams end here).
#[allow(unused_variables)]
pub fn on_leave(stop: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{JsCast, closure::Closure};
        let closure = Closure::once_into_js(stop);
        let options = web_sys::AddEventListenerOptions::new();
        options.set_once(true);
        let _ = window().add_event_listener_with_callback_and_add_event_listener_options(
            "atrium:leave",
            closure.unchecked_ref(),
            &options,
        );
    }
}

/// Waits `ms` milliseconds in the browser (a timer; nothing in the server).
#[cfg(feature = "hydrate")]
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
