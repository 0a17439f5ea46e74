//! `atrium`: serves the portal. Configuration comes from defaults, an
//! optional `atrium.toml` and `ATRIUM_*` environment variables.

use app::config::Config;
use std::net::SocketAddr;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Rendering a large page walks deeply nested view types; unoptimised
    // (debug) builds need more than the default 2 MiB of stack for that.
    match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build() {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("atrium: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("atrium: {e}");
            return ExitCode::from(2);
        }
    };
    atrium::telemetry::init(&config.log_format);
    tracing::info!(config = ?config, "starting");
    let listen = config.listen;
    let (router, _state) = match atrium::build(config).await {
        Ok(built) => built,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, %listen, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%listen, "listening");
    // NB: without TCP_NODELAY a response written in two segments waits on the
    // client's delayed ACK (about 40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    // The peer address is the client's (rate limits), unless a trusted proxy says otherwise.
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown()).await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
