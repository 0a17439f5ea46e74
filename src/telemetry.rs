//! Structured logs through `tracing` and, when an endpoint is configured,
//! traces to an OpenTelemetry collector over OTLP/HTTP (decision 0022): the
//! same spans (a request, its calls to Kubernetes and MLflow) become both.

use app::config::OtelConfig;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What must outlive the process's work: the trace exporter, flushed at exit.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered (at most a few seconds).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("atrium: traces not all sent at exit: {e}");
        }
    }
}

/// `json` logs for machines, anything else for people. `RUST_LOG` filters.
pub fn init(format: &str, otel: &OtelConfig) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_sessions=warn,sqlx=warn"));
    let json = format == "json";
    let provider = if otel.endpoint.is_empty() {
        None
    } else {
        match exporter(otel) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("atrium: no traces: cannot set up the exporter to {}: {e}", otel.endpoint);
                None
            }
        }
    };
    if provider.is_some() {
        // A caller's `traceparent` (an ingress, a gateway) is continued.
        opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    }
    let traces = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("atrium")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json.then(|| tracing_subscriber::fmt::layer().json().flatten_event(true)))
        .with((!json).then(tracing_subscriber::fmt::layer))
        .with(traces)
        .try_init();
    Telemetry { provider }
}

fn exporter(otel: &OtelConfig) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", otel.endpoint.trim_end_matches('/')))
        .with_timeout(std::time::Duration::from_secs(5))
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(otel.service_name.clone()).build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(otel.sample_ratio))))
        .with_resource(resource)
        .build())
}

/// The trace a request continues, from its W3C `traceparent` header; `None`
/// without one (or with traces off: no propagator is set then).
pub fn caller_context(headers: &http::HeaderMap) -> Option<opentelemetry::Context> {
    headers.contains_key("traceparent").then(|| {
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&opentelemetry_http::HeaderExtractor(headers)))
    })
}
