//! Traces, when the portal is told where to send them (OTLP/HTTP; off by
//! default): a person's request continues the trace its caller started (W3C
//! `traceparent`), named by its route, with the portal's calls to the API
//! server under it. The real `atrium` binary on the local stack, exporting
//! to a receiver here that decodes OTLP's protobuf as a collector would.

mod common;

use axum::body::Bytes;
use common::{Binary, LOGIN_PORT, browser, login_port, sign_in};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use prost::Message;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// An OTLP/HTTP trace receiver on loopback: what it was sent, decoded.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let keep = keep.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                keep.lock().unwrap().push(ExportTraceServiceRequest::decode(body).expect("OTLP protobuf"));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), got)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.clone()).and_then(|v| v.value)
}

/// Every span of `trace` received so far, with the service that sent it.
fn spans_of(got: &Received, trace: &str) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for request in got.lock().unwrap().iter() {
        for resource in &request.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.clone())
                .and_then(|v| v.value);
            let service = match service {
                Some(Value::StringValue(s)) => s,
                _ => String::new(),
            };
            for scope in &resource.scope_spans {
                for span in scope.spans.iter().filter(|s| hex(&s.trace_id) == trace) {
                    out.push((service.clone(), span.clone()));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn a_request_continues_its_callers_trace_with_its_kubernetes_calls_under_it() {
    let _port = login_port().await;
    let (endpoint, got) = receiver().await;
    let portal = Binary::start(LOGIN_PORT, &[("ATRIUM_OTEL__ENDPOINT", &endpoint), ("ATRIUM_OTEL__SERVICE_NAME", "atrium-under-test")], Stdio::null()).await;
    let base = portal.base.clone();
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;

    // An ingress (or a gateway) started the trace and says so.
    let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let res = tom
        .post(format!("{base}/api/team-quota"))
        .header("Origin", &base)
        .header("traceparent", format!("00-{trace}-{caller}-01"))
        .form(&[("team", "team-a")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // The exporter sends in batches (every few seconds).
    let started = Instant::now();
    let spans = loop {
        let spans = spans_of(&got, trace);
        if spans.iter().any(|(_, s)| s.kind == SpanKind::Server as i32) && spans.iter().any(|(_, s)| s.name.starts_with("kubernetes ")) {
            break spans;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no trace {trace} arrived: {:?}", spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let (service, request) = spans.iter().find(|(_, s)| s.kind == SpanKind::Server as i32).unwrap();
    assert_eq!(service, "atrium-under-test");
    assert_eq!(request.name, "POST /api/team-quota", "named by its route");
    assert_eq!(hex(&request.parent_span_id), caller, "under the caller's span");
    assert!(matches!(attribute(request, "http.response.status_code"), Some(Value::IntValue(200))), "{:?}", request.attributes);
    assert!(matches!(attribute(request, "user"), Some(Value::StringValue(u)) if u == "tom"), "who asked: {:?}", request.attributes);

    // The API server calls it made, under it, as client spans.
    let calls: Vec<&Span> = spans.iter().map(|(_, s)| s).filter(|s| s.name.starts_with("kubernetes ")).collect();
    assert!(calls.iter().all(|s| s.parent_span_id == request.span_id && s.kind == SpanKind::Client as i32), "under the request");
    assert!(
        calls.iter().any(|s| s.name.ends_with(" resourcequotas") && matches!(attribute(s, "http.response.status_code"), Some(Value::IntValue(200)))),
        "the quota read: {:?}",
        calls.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    // Span names carry routes and resources, never a team's name.
    assert!(spans.iter().all(|(_, s)| !s.name.contains("team-a")), "{:?}", spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>());
}
