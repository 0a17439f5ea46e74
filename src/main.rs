//! `atrium`: serves the portal. Configuration comes from defaults, an
//! optional `atrium.toml` and `ATRIUM_*` environment variables.

use app::config::Config;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

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
    let telemetry = atrium::telemetry::init(&config.log_format, &config.otel);
    tracing::info!(config = ?config, "starting");
    let listen = config.listen;
    let (router, state) = match atrium::build(config).await {
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
    let life = state.lifecycle.clone();
    let (drain, grace) = (Duration::from_secs(state.config.shutdown_drain_seconds), Duration::from_secs(state.config.shutdown_grace_seconds));
    let (stopped, mut stopped_rx) = tokio::sync::watch::channel(false);
    let serving = axum::serve(listener, service).with_graceful_shutdown(async move {
        // Ctrl-C is a person at a terminal: no load balancer to wait for.
        if signal().await == Signal::Terminate {
            tracing::info!(drain_seconds = drain.as_secs(), "draining: /readyz says so, requests are still served");
            life.drain();
            tokio::time::sleep(drain).await;
        }
        tracing::info!(grace_seconds = grace.as_secs(), "stopping: streams end, no new connections, in-flight requests finish");
        life.stop();
        let _ = stopped.send(true);
    });
    let mut serving = std::pin::pin!(serving.into_future());
    let served = tokio::select! {
        served = &mut serving => served,
        () = async {
            let _ = stopped_rx.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("grace period over: exiting with requests still in flight");
            Ok(())
        }
    };
    let code = match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    };
    // The exporter's thread blocks while it sends: off the runtime's threads.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    code
}

#[derive(PartialEq, Eq)]
enum Signal {
    Terminate,
    Interrupt,
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn signal() -> Signal {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => Signal::Interrupt,
        _ = term.recv() => Signal::Terminate,
    }
}
