//! Islands start from the data their page was rendered with (their props)
//! and load it again through a server function after the person changed it.

use crate::error::AppError;
use leptos::prelude::*;
use std::future::Future;

/// Loads `data` again with `load` each time `version` moves (an action's
/// version: it counts the times it finished). A failed load keeps what is
/// shown; the action's own outcome already tells the person what happened.
pub fn reload_when<T, F, Fut>(version: impl Fn() -> usize + Send + Sync + 'static, data: RwSignal<T>, load: F)
where
    T: Send + Sync + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, AppError>> + 'static,
{
    Effect::watch(
        version,
        move |_, _, _| {
            let pending = load();
            leptos::task::spawn_local(async move {
                if let Ok(fresh) = pending.await {
                    data.set(fresh);
                }
            });
        },
        false,
    );
}
