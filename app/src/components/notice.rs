//! The outcome of an action: a short confirmation, or the refusal in words.

use crate::error::AppError;
use leptos::prelude::*;

/// Shows nothing until `result` holds an outcome.
#[component]
pub fn ActionNotice(
    #[prop(into)] result: Signal<Option<Result<(), AppError>>>,
    ok: &'static str,
    testid: &'static str,
) -> impl IntoView {
    move || {
        result.get().map(|r| match r {
            Ok(()) => view! { <p class="notice-ok" role="status" data-testid=testid>{ok}</p> }.into_any(),
            Err(e) => view! { <p class="notice-error" role="alert" data-testid=testid>{e.to_string()}</p> }.into_any(),
        })
    }
}
