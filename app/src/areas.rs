//! Areas whose pages arrive with later work. Each says plainly what it will
//! hold, so the navigation can already follow what Kubernetes allows.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn AreaIntro(title: &'static str, text: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <h1 class="page-title" data-testid="area-title">{title}</h1>
        <section class="card"><p class="muted">{text}</p></section>
    }
}

#[component]
pub fn ModelsPage() -> impl IntoView {
    view! { <AreaIntro title="Models" text="Registered models, their versions and deployments will be listed here."/> }
}
