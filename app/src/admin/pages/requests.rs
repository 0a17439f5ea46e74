//! `/admin/requests`: quota requests waiting for a platform admin's decision.

use crate::admin::requests::{DecideRequest, pending_requests};
use crate::components::error_view::ErrorView;
use crate::model::quota::{QuotaRequest, resource_label};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn RequestsPage() -> impl IntoView {
    let requests = Resource::new(|| (), |_| pending_requests());
    view! {
        <Title text="Quota requests"/>
        <h1 class="page-title">"Platform"</h1>
        <super::AdminTabs/>
        <Suspense fallback=|| view! { <p class="muted">"Loading requests…"</p> }>
            {move || Suspend::new(async move {
                match requests.await {
                    Ok(list) => view! { <PendingRequests initial=list/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The waiting requests with their decisions: the page's island.
#[island(lazy)]
fn PendingRequests(initial: Vec<QuotaRequest>) -> impl IntoView {
    let decide = ServerAction::<DecideRequest>::new();
    let requests = RwSignal::new(initial);
    crate::components::reload::reload_when(move || decide.version().get(), requests, pending_requests);
    view! {
        <crate::components::notice::ActionNotice result=Signal::derive(move || decide.value().get()) ok="Decided." testid="decide-result"/>
        {move || {
            let list = requests.get();
            if list.is_empty() {
                view! { <p class="muted" data-testid="no-requests">"No requests are waiting."</p> }.into_any()
            } else {
                view! {
                    <div class="grid gap-4" data-testid="pending-requests">
                        {list.into_iter().map(|r| view! { <RequestCard request=r decide=decide/> }).collect_view()}
                    </div>
                }.into_any()
            }
        }}
    }
}

#[component]
fn RequestCard(request: QuotaRequest, decide: ServerAction<DecideRequest>) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let id = request.id;
    view! {
        <section class="card space-y-2" data-testid=format!("pending-{}", request.team)>
            <h2 class="section-title">{format!("{}: {} → {}", request.team, resource_label(&request.resource), request.amount)}</h2>
            <p class="muted">{format!("Asked by {}: “{}”", request.requested_by, request.reason)}</p>
            <div class="flex flex-wrap items-center gap-2">
                <button class="btn-primary" data-testid="approve" on:click=move |_| { decide.dispatch(DecideRequest { id, approve: true, reason: reason.get() }); }>"Approve"</button>
                <input class="input" placeholder="Reason to deny" aria-label="Reason to deny" data-testid="deny-reason"
                    prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))/>
                <button class="btn-quiet" data-testid="deny" on:click=move |_| { decide.dispatch(DecideRequest { id, approve: false, reason: reason.get() }); }>"Deny"</button>
            </div>
        </section>
    }
}
