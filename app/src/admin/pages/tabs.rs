//! The tabs across the admin pages.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn AdminTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Admin">
            <A href="/admin" exact=true attr:class="tab" attr:data-testid="tab-teams">"Teams"</A>
            <A href="/admin/requests" attr:class="tab" attr:data-testid="tab-requests">"Quota requests"</A>
            <A href="/admin/catalog" attr:class="tab" attr:data-testid="tab-catalog">"Notebook catalog"</A>
            <A href="/admin/audit" attr:class="tab" attr:data-testid="tab-audit">"Audit"</A>
        </nav>
    }
}
