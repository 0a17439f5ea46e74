//! Structured logs through `tracing`.

use tracing_subscriber::EnvFilter;

/// `json` logs for machines, anything else for people. `RUST_LOG` filters.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_sessions=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if format == "json" { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}
