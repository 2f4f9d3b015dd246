//! The HTTP listener: one catch-all route, bodies capped, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

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

/// Serves `app` until `shutdown` resolves, then lets in-flight requests finish (up to 10 s).
pub async fn serve(app: App, listening: Listening, shutdown: impl Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            conn = listening.listener.accept() => {
                let (stream, peer) = match conn {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(app, peer, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
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

async fn handle(app: App, peer: SocketAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = read_capped(body).await;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let raw = RawRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers,
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
