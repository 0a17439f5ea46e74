//! `/admin/audit`: every team's trail, under the admin tabs.

use super::trail::AuditTrail;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    view! {
        <Title text="Audit"/>
        <h1 class="page-title">"Platform"</h1>
        <crate::admin::AdminTabs/>
        <AuditTrail team=None/>
    }
}
