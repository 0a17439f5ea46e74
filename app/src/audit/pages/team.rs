//! `/teams/:team/audit`: one team's trail, under the team's tabs.

use super::trail::AuditTrail;
use crate::teams::pages::TeamTabs;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn TeamAuditPage() -> impl IntoView {
    let team = use_params_map().read_untracked().get("team");
    view! {
        <Title text="Audit"/>
        <TeamTabs/>
        <AuditTrail team=team/>
    }
}
