//! Connections: the accept loop and one task per connection, each bounded in time and in number.
//!
//! One client must not be able to take the collector down by opening connections and sending
//! nothing, or sending a request one byte at a time (slowloris). So:
//! - at most `server.max_connections` connections are open (TLS handshakes included); at the cap
//!   the loop stops accepting until one closes, and new clients wait in the kernel's backlog;
//! - a TLS handshake must finish within `server.tls_handshake_timeout_seconds`;
//! - a connection with nothing received and no request being answered is closed after
//!   `server.idle_timeout_seconds` (a new connection that sends nothing, a keep-alive one between
//!   requests);
//! - a request's head must be complete within `server.header_read_timeout_seconds` of its first
//!   byte;
//! - its body must arrive within `server.body_read_timeout_seconds` of the end of the head
//!   ([`DeadlineBody`]; the handler answers 408).
//!
//! Idle and header deadlines are judged by a watchdog beside each connection from what its socket
//! did ([`Activity`]), so they hold for plain HTTP and TLS alike.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower_service::Service as _;

use crate::config::ServerSection;
use crate::http::BodyTimeout;

/// The time and count limits of connections, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read: Duration,
    pub idle: Duration,
    pub body_read: Duration,
    pub tls_handshake: Duration,
    pub max_connections: usize,
}

impl ConnLimits {
    /// The limits configured in `[server]`.
    pub fn from_config(s: &ServerSection) -> ConnLimits {
        ConnLimits {
            header_read: Duration::from_secs(s.header_read_timeout_seconds),
            idle: Duration::from_secs(s.idle_timeout_seconds),
            body_read: Duration::from_secs(s.body_read_timeout_seconds),
            tls_handshake: Duration::from_secs(s.tls_handshake_timeout_seconds),
            max_connections: s.max_connections,
        }
    }
}

/// How long in-flight requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Accept connections until `shutdown` turns true, then let open ones finish their requests (at
/// most [`SHUTDOWN_GRACE`]).
pub async fn run(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut cap_warned: Option<Instant> = None;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if cap_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    cap_warned = Some(Instant::now());
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection cap reached: new connections wait until one closes"
                    );
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = shutdown.changed() => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; the cap should keep us
                    // below the descriptor limit, other processes' use may not.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let (router, tls, shutdown) = (router.clone(), tls.clone(), shutdown.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(stream, peer, router, limits, shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.tls_handshake, acceptor.accept(stream)).await
                    {
                        Ok(Ok(s)) => serve_connection(s, peer, router, limits, shutdown).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    // Every connection holds a permit: all of them back means every connection is closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = limits.max_connections - permits.available_permits(),
            "connections still open after the shutdown grace period; closing them"
        );
    }
}

/// Serve HTTP/1.1 on one accepted (and, for TLS, handshaken) connection until it closes, a
/// deadline passes, or shutdown.
async fn serve_connection<S>(
    io: S,
    peer: SocketAddr,
    router: Router,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut router = router.clone();
            let in_flight = InFlight::enter(activity.clone());
            let body_read = limits.body_read;
            async move {
                let _in_flight = in_flight;
                let (mut parts, body) = req.into_parts();
                parts.extensions.insert(ConnectInfo(peer));
                let body = Body::new(DeadlineBody::new(body, body_read));
                router.call(hyper::Request::from_parts(parts, body)).await
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        // The watchdog below judges head and idle time; hyper's own timer would also fire
        // between keep-alive requests, tying the idle time to the header time.
        .header_read_timeout(None)
        .keep_alive(true)
        .serve_connection(
            TokioIo::new(Tracked {
                inner: io,
                activity: activity.clone(),
            }),
            service,
        );
    tokio::pin!(conn);
    let watchdog = watchdog(activity, limits);
    tokio::pin!(watchdog);
    let mut draining = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            reason = &mut watchdog => {
                tracing::debug!(%peer, reason, "connection closed");
                return;
            }
            _ = shutdown.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Resolves with the reason once the connection has outlived its idle or header deadline.
async fn watchdog(activity: Arc<Activity>, limits: ConnLimits) -> &'static str {
    loop {
        match verdict(&activity.snapshot(), &limits) {
            Verdict::Close(reason) => return reason,
            Verdict::CheckIn(d) => tokio::time::sleep(d).await,
        }
    }
}

/// What a connection did, in milliseconds since it was accepted (`0` = never, so every recorded
/// time is stored plus one).
struct Activity {
    start: Instant,
    /// When the connection last began waiting for a request (after a response; 0 at accept).
    waiting_since: AtomicU64,
    /// First byte received since it began waiting (the start of the next head), or 0.
    head_started: AtomicU64,
    /// Last byte sent.
    last_write: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicUsize,
}

/// A copy of [`Activity`] at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ActivitySnapshot {
    now: u64,
    waiting_since: u64,
    head_started: u64,
    last_write: u64,
    in_flight: usize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            waiting_since: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Milliseconds since accept, plus one (0 means "never").
    fn stamp(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    fn snapshot(&self) -> ActivitySnapshot {
        ActivitySnapshot {
            now: self.stamp(),
            waiting_since: self.waiting_since.load(Ordering::Acquire),
            head_started: self.head_started.load(Ordering::Acquire),
            last_write: self.last_write.load(Ordering::Acquire),
            in_flight: self.in_flight.load(Ordering::Acquire),
        }
    }
}

/// The watchdog's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Look again after this long.
    CheckIn(Duration),
    /// Close the connection, for this reason.
    Close(&'static str),
}

/// The rule: while a request is being answered the connection lives (the body deadline and the
/// handler bound it); otherwise a started head must complete within the header timeout, and a
/// connection with no head started is idle since it last began waiting or last sent a byte.
fn verdict(a: &ActivitySnapshot, limits: &ConnLimits) -> Verdict {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4);
    if a.in_flight > 0 {
        return Verdict::CheckIn(limits.idle.min(limits.header_read));
    }
    if a.head_started != 0 {
        let deadline = a.head_started + ms(limits.header_read);
        return match deadline.checked_sub(a.now) {
            Some(left) if left > 0 => Verdict::CheckIn(Duration::from_millis(left)),
            _ => Verdict::Close("header_read_timeout"),
        };
    }
    let deadline = a.waiting_since.max(a.last_write) + ms(limits.idle);
    match deadline.checked_sub(a.now) {
        // A head may start any moment and be due one header timeout later, before the idle
        // deadline: look again by then.
        Some(left) if left > 0 => {
            Verdict::CheckIn(Duration::from_millis(left).min(limits.header_read))
        }
        _ => Verdict::Close("idle_timeout"),
    }
}

/// Marks a request in flight; on drop (the response is ready) the connection waits again.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.head_started.store(0, Ordering::Release);
        a.waiting_since.store(a.stamp(), Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket, recording when bytes move.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let a = &self.activity;
            // Only the first byte of a head starts its clock; bytes of a body being read by a
            // handler (a request in flight) do not.
            if a.in_flight.load(Ordering::Acquire) == 0 {
                let _ = a.head_started.compare_exchange(
                    0,
                    a.stamp(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity
                .last_write
                .store(self.activity.stamp(), Ordering::Release);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity
                .last_write
                .store(self.activity.stamp(), Ordering::Release);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails with [`BodyTimeout`] once its deadline has passed.
pub struct DeadlineBody<B> {
    inner: B,
    limit: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<B> DeadlineBody<B> {
    /// `inner` must be read completely within `limit` from now.
    pub fn new(inner: B, limit: Duration) -> DeadlineBody<B> {
        DeadlineBody {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl<B> hyper::body::Body for DeadlineBody<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(r) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(r.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(self.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnLimits {
        ConnLimits {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            body_read: Duration::from_secs(30),
            tls_handshake: Duration::from_secs(10),
            max_connections: 8,
        }
    }

    fn at(now: u64) -> ActivitySnapshot {
        ActivitySnapshot {
            now,
            waiting_since: 0,
            head_started: 0,
            last_write: 0,
            in_flight: 0,
        }
    }

    #[test]
    fn a_silent_new_connection_is_idle_from_accept() {
        let l = limits();
        assert_eq!(
            verdict(&at(29_999), &l),
            Verdict::CheckIn(Duration::from_millis(1))
        );
        assert_eq!(verdict(&at(30_000), &l), Verdict::Close("idle_timeout"));
    }

    /// A head that starts while the watchdog waits for the (longer) idle deadline is still cut
    /// at its own deadline: the watchdog never sleeps longer than one header timeout.
    #[test]
    fn the_watchdog_wakes_in_time_for_a_head_that_starts_later() {
        let l = limits();
        assert_eq!(
            verdict(&at(1), &l),
            Verdict::CheckIn(Duration::from_secs(10))
        );
        let a = ActivitySnapshot {
            head_started: 2,
            ..at(10_001)
        };
        assert_eq!(verdict(&a, &l), Verdict::CheckIn(Duration::from_millis(1)));
    }

    #[test]
    fn a_started_head_has_the_header_timeout_from_its_first_byte() {
        let l = limits();
        let a = ActivitySnapshot {
            head_started: 5_001,
            ..at(15_000)
        };
        assert_eq!(verdict(&a, &l), Verdict::CheckIn(Duration::from_millis(1)));
        let a = ActivitySnapshot { now: 15_001, ..a };
        assert_eq!(verdict(&a, &l), Verdict::Close("header_read_timeout"));
    }

    #[test]
    fn keep_alive_idle_counts_from_the_last_response_byte() {
        let l = limits();
        // Answered at 100 s, last byte written at 101 s: idle until 131 s.
        let a = ActivitySnapshot {
            waiting_since: 100_000,
            last_write: 101_000,
            ..at(130_000)
        };
        assert_eq!(
            verdict(&a, &l),
            Verdict::CheckIn(Duration::from_millis(1_000))
        );
        let a = ActivitySnapshot { now: 131_000, ..a };
        assert_eq!(verdict(&a, &l), Verdict::Close("idle_timeout"));
    }

    #[test]
    fn a_request_in_flight_is_never_cut_by_the_watchdog() {
        let l = limits();
        let a = ActivitySnapshot {
            in_flight: 1,
            head_started: 1,
            ..at(1_000_000)
        };
        assert_eq!(verdict(&a, &l), Verdict::CheckIn(Duration::from_secs(10)));
    }

    /// A body that sends one chunk and then nothing, like a slow-body client.
    struct Stalled(Option<Bytes>);

    impl hyper::body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.0.take() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => Poll::Pending,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_fails_with_body_timeout() {
        use http_body_util::BodyExt as _;
        let started = tokio::time::Instant::now();
        let mut b = DeadlineBody::new(
            Stalled(Some(Bytes::from_static(b"{\"partial\":"))),
            Duration::from_secs(3),
        );
        let first = b.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), &b"{\"partial\":"[..]);
        let e = b.frame().await.unwrap().unwrap_err();
        assert!(e.downcast_ref::<BodyTimeout>().is_some(), "{e}");
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }
}
