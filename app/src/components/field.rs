//! One row of a form: a label, the control it names, and an optional hint.

use leptos::prelude::*;

/// A labelled control. The children are the control, and must carry `id`:
/// the label points at it, so the control is named by the label's words.
/// A `hint` is shown under it with the id `{id}-hint`, for the control's
/// `aria-describedby`.
#[component]
pub fn Field(
    #[prop(into)] id: String,
    #[prop(into)] label: String,
    #[prop(optional, into)] hint: Option<String>,
    children: Children,
) -> impl IntoView {
    let hint = hint.map(|h| view! { <p id=format!("{id}-hint") class="hint">{h}</p> });
    view! {
        <div class="form-row">
            <label for=id>{label}</label>
            {children()}
            {hint}
        </div>
    }
}
