//! How an error looks on a page, with the HTTP status set during SSR.

use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::from_u16(error.status()).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR));
    }
    let action = match &error {
        AppError::Unauthorized => Some(view! { <a class="btn-primary" href="/auth/login">"Sign in"</a> }.into_any()),
        AppError::Forbidden(_) | AppError::NotFound(_) => Some(view! { <a class="btn-quiet" href="/">"Back to your home page"</a> }.into_any()),
        _ => None,
    };
    view! {
        <Title text=error.title()/>
        <section class="card error-card" role="alert" data-testid="error" data-status=error.status().to_string()>
            <h1 class="page-title" data-testid="error-title">{error.title()}</h1>
            <p data-testid="error-message">{error.to_string()}</p>
            {action}
        </section>
    }
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! { <ErrorView error=AppError::NotFound("There is no page at this address.".into())/> }
}
