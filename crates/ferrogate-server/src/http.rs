//! The HTTP listener: one catch-all route, bodies capped, graceful shutdown, and limits
//! against clients that hold resources without sending anything (slowloris): a short
//! deadline for the first byte of a new connection, a deadline for request headers (which
//! also closes idle keep-alive connections), one for the body, a cap on the connections
//! one peer address may hold and one on all connections.
//!
//! The listener never stops accepting: a connection over a cap is accepted and closed at
//! once. Waiting instead would leave every later client, including well-behaved ones, in
//! the kernel's accept queue behind a flood of idle connections from one peer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::dispatch::{self, RawRequest};
use crate::App;

/// A bound listener, before it serves.
pub struct Listening {
    listener: TcpListener,
    /// The address actually bound (port 0 resolved).
    pub local_addr: SocketAddr,
}

impl Listening {
    /// Binds `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
        })
    }
}

/// What one client may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A new connection must send its first byte within this long, or it is closed.
    pub first_byte_timeout: Duration,
    /// A request's headers must arrive within this long of the server starting to wait for
    /// them; an idle keep-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// A request's body must arrive within this long of its headers.
    pub body_timeout: Duration,
    /// Connections open at once; a connection beyond it is closed as soon as it is
    /// accepted.
    pub max_connections: usize,
    /// Connections one peer address may hold at once; beyond it, likewise.
    pub max_per_peer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            first_byte_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_per_peer: 256,
        }
    }
}

/// Open connections per peer address.
#[derive(Default)]
struct Peers(Mutex<HashMap<IpAddr, usize>>);

/// One open connection, counted against its peer until dropped.
struct PeerSlot {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    /// Counts a connection from `ip`, unless it already holds `max`.
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut m = self.peers.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` until `shutdown` resolves, then lets in-flight requests finish (up to 10 s).
pub async fn serve(app: App, listening: Listening, shutdown: impl Future<Output = ()>) {
    serve_with(app, listening, Limits::default(), shutdown).await;
}

/// As [`serve`], with explicit [`Limits`].
pub async fn serve_with(
    app: App,
    listening: Listening,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let peers = Arc::new(Peers::default());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            conn = listening.listener.accept() => match conn {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Over a cap: dropped here, which closes it.
        let Some(peer_slot) = peers.enter(peer.ip(), limits.max_per_peer.max(1)) else {
            tracing::debug!(%peer, "connection refused: too many from this peer");
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection refused: too many connections");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let body_timeout = limits.body_timeout;
        let service = hyper::service::service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(handle(app, peer, req, body_timeout).await) }
        });
        let watcher = graceful.watcher();
        let first_byte = limits.first_byte_timeout;
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            // A client that connects and sends nothing holds a connection for
            // `first_byte_timeout` at most.
            let mut probe = [0u8; 1];
            match tokio::time::timeout(first_byte, stream.peek(&mut probe)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(crate::heads::Heads::new(stream)), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop((slot, peer_slot));
        });
    }
    drop(listening);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("shutdown: gave up waiting for connections after 10 s"),
    }
}

/// Bodies larger than this are not even drained: the connection is closed after the 413.
const DRAIN_LIMIT: usize = 8 * ferrogate_wire::MAX_BODY_BYTES;

/// Reads the body up to [`ferrogate_wire::MAX_BODY_BYTES`]. A larger body is read to its end
/// (up to [`DRAIN_LIMIT`]) and dropped, so that the client receives the 413 instead of a
/// broken pipe, which SDKs would retry.
async fn read_capped(mut body: Incoming) -> Option<Bytes> {
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return None };
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen > DRAIN_LIMIT {
                return None;
            }
            if seen <= ferrogate_wire::MAX_BODY_BYTES {
                buf.extend_from_slice(&data);
            }
        }
    }
    (seen <= ferrogate_wire::MAX_BODY_BYTES).then(|| buf.freeze())
}

async fn handle(
    app: App,
    peer: SocketAddr,
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let Ok(body) = tokio::time::timeout(body_timeout, read_capped(body)).await else {
        // Nothing can be verified without the whole body; tell the client and close.
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
        r.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        return r;
    };
    let (text, binary): (Vec<_>, Vec<_>) =
        parts.headers.iter().partition(|(_, v)| v.to_str().is_ok());
    let headers: Vec<(String, String)> = text
        .into_iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let raw = RawRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers,
        binary_headers: binary
            .into_iter()
            .map(|(n, _)| n.as_str().to_owned())
            .collect(),
        body,
        peer: peer.ip(),
    };
    let out = dispatch::handle(&app, raw).await;
    let mut resp = Response::builder().status(out.status);
    for (k, v) in &out.headers {
        resp = resp.header(*k, v);
    }
    resp.body(Full::new(Bytes::from(out.body)))
        .unwrap_or_else(|_| {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}
