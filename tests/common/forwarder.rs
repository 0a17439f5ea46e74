//! A TCP forwarder on a loopback address of its own that a test can cut and
//! restore: it takes a service away from one portal (pointed at it with
//! `oidc.provider_address`) without stopping it for every other test.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

pub struct Forwarder {
    /// The address to point the portal at; it listens on the target's port.
    pub ip: IpAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    cut: AtomicBool,
    refused: AtomicUsize,
    live: Mutex<Vec<AbortHandle>>,
}

impl Forwarder {
    /// Forwards `127.x.y.z:<port of to>` (an address no one else uses) to `to`.
    pub async fn start(to: SocketAddr) -> Forwarder {
        let listener = bind_own_address(to.port()).await;
        let ip = listener.local_addr().expect("bound").ip();
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, to, shared.clone()));
        Forwarder { ip, shared, accept }
    }

    /// From now on connections are closed as soon as they arrive, and the
    /// open ones are dropped: the service is gone for whoever comes through.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        for conn in self.shared.live.lock().expect("live").drain(..) {
            conn.abort();
        }
    }

    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Connections turned away while cut.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn accept_loop(listener: TcpListener, to: SocketAddr, shared: Arc<Shared>) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        if shared.cut.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            drop(inbound);
            continue;
        }
        let conn = tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(to).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
        let mut live = shared.live.lock().expect("live");
        live.retain(|c| !c.is_finished());
        live.push(conn.abort_handle());
    }
}

/// Linux routes all of 127.0.0.0/8 to loopback: pick an address there
/// that no other test process is using.
async fn bind_own_address(port: u16) -> TcpListener {
    let seed = std::process::id() as usize ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as usize;
    for attempt in 0..20 {
        let n = seed.wrapping_add(attempt * 7919);
        let ip = Ipv4Addr::new(127, 77, (n % 250) as u8 + 1, (n / 250 % 250) as u8 + 2);
        if let Ok(listener) = TcpListener::bind((ip, port)).await {
            return listener;
        }
    }
    panic!("no free loopback address for port {port}");
}
