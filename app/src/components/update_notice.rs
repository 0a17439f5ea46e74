//! The notice a page shows when its code stops: most often because Atrium was
//! redeployed while the page was open, so the part of the app the next page
//! needs (an area's chunk of the build this page started with) is gone.
//! Called from the panic hook: a panic aborts the WASM module, so this only
//! touches the DOM, synchronously, and leaves a plain link that reloads.

/// Words of the panic raised when a lazily loaded chunk cannot be fetched.
const CHUNK_FAILED: &str = "load callback should succeed";

/// What the notice says for a panic with this message.
pub fn message(panic: &str) -> &'static str {
    if panic.contains(CHUNK_FAILED) {
        "Atrium was updated — reload to continue."
    } else {
        "Something went wrong on this page — reload to continue."
    }
}

#[cfg(feature = "hydrate")]
thread_local! {
    /// The page the person last asked for with a link, and when (ms): a chunk
    /// fails while navigating, before the address bar changes, so "Reload"
    /// should go where they were going.
    static ASKED_FOR: std::cell::RefCell<Option<(String, f64)>> = const { std::cell::RefCell::new(None) };
}

/// Notes every link the person follows (capturing, before the router acts).
#[cfg(feature = "hydrate")]
pub fn note_navigation() {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let on_click = Closure::<dyn Fn(web_sys::Event)>::new(|ev: web_sys::Event| {
        let link = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).and_then(|e| e.closest("a[href]").ok().flatten());
        if let Some(href) = link.and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok()).map(|a| a.href()) {
            ASKED_FOR.with(|c| *c.borrow_mut() = Some((href, js_sys::Date::now())));
        }
    });
    let _ = document.add_event_listener_with_callback_and_bool("click", on_click.as_ref().unchecked_ref(), true);
    on_click.forget();
}

#[cfg(feature = "hydrate")]
pub fn show(panic: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Some(body) = document.body() else { return };
    if document.get_element_by_id("update-notice").is_some() {
        return;
    }
    let here = document.location().and_then(|l| l.href().ok()).unwrap_or_else(|| "/".into());
    let asked = ASKED_FOR.with(|c| c.borrow().clone()).filter(|(_, at)| js_sys::Date::now() - at < 30_000.0);
    let here = asked.map(|(href, _)| href).unwrap_or(here);
    let Ok(notice) = document.create_element("div") else { return };
    notice.set_id("update-notice");
    let _ = notice.set_attribute("role", "alert");
    let _ = notice.set_attribute("class", "update-notice");
    let _ = notice.set_attribute("data-testid", "update-notice");
    notice.set_text_content(Some(message(panic)));
    if let Ok(link) = document.create_element("a") {
        let _ = link.set_attribute("href", &here);
        // A full page load: the router's own link handling runs in the stopped module.
        let _ = link.set_attribute("rel", "external");
        let _ = link.set_attribute("target", "_self");
        let _ = link.set_attribute("class", "btn-primary");
        link.set_text_content(Some("Reload"));
        let _ = notice.append_child(&link);
    }
    let _ = body.prepend_with_node_1(&notice);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chunk_reads_as_an_update() {
        assert_eq!(message("panicked at src/lib.rs: load callback should succeed: SplitLoaderError(())"), "Atrium was updated — reload to continue.");
        assert!(message("index out of bounds").starts_with("Something went wrong"));
    }
}
