//! The live stream a notebook page follows while it is open: status
//! changes arrive without a reload (server-sent events from `notebooks::live`).

use crate::notebooks::model::NotebookRow;
use leptos::prelude::*;

/// Follows the live stream for these rows while the page is open.
#[allow(unused_variables)]
pub(super) fn follow(team: Option<String>, rows: RwSignal<Vec<NotebookRow>>, live: RwSignal<bool>, now: RwSignal<i64>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{JsCast, closure::Closure};
        let url = match &team {
            Some(t) => format!("/api/notebooks/stream?team={t}"),
            None => "/api/notebooks/stream".to_string(),
        };
        let Ok(source) = web_sys::EventSource::new(&url) else { return };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let Some(text) = e.data().as_string() else { return };
            if let Ok(event) = serde_json::from_str::<crate::notebooks::model::NotebookEvent>(&text) {
                rows.update(|r| crate::notebooks::model::apply_event(r, event));
                now.set(js_sys::Date::now() as i64);
                live.set(true);
            }
        });
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(false));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        let tick = set_interval_with_handle(move || now.set(js_sys::Date::now() as i64), std::time::Duration::from_secs(20)).ok();
        // Ends when the island goes (a reload of its data) or the person
        // leaves the page (islands outlive their page; see `navigation`).
        let stop = move || {
            source.close();
            if let Some(t) = tick {
                t.clear();
            }
        };
        crate::navigation::on_leave(stop.clone());
        let stop = send_wrapper::SendWrapper::new(stop);
        on_cleanup(move || (stop.take())());
    }
}
