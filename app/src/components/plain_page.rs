//! A small server-rendered page for the moments the app shell cannot run:
//! sign-in problems and the signed-out page. Same stylesheet, no script.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

pub fn plain_page(status: StatusCode, title: &str, message: &str, link: Option<(&str, &str)>) -> Response {
    let link = link
        .map(|(href, text)| format!(r#"<a class="btn-primary" data-testid="plain-page-link" href="{}">{}</a>"#, escape(href), escape(text)))
        .unwrap_or_default();
    let body = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Atrium</title><link rel="stylesheet" href="/pkg/atrium.css"></head>
<body class="page-bg"><main class="plain-page"><div class="card plain-card">
<p class="brand">Atrium</p><h1 data-testid="plain-page-title">{title}</h1><p data-testid="plain-page-message">{message}</p>{link}
</div></main></body></html>"#,
        title = escape(title),
        message = escape(message),
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
