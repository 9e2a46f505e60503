//! What one HTTP connection is doing, for its idle timeout: when a byte last moved, and
//! whether the server (not the client) is the one everybody waits for.
//!
//! [`Watched`] wraps the socket and notes every byte read or written; [`WatchedBody`]
//! wraps a request body and notes when the handler waits for the client to send more of
//! it; [`Busy`] marks a request whose answer the server is still computing. The idle
//! clock runs unless the server is computing an answer that is not waiting on the body.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The shared record of one connection.
#[derive(Debug)]
pub struct Activity {
    origin: Instant,
    /// Milliseconds from `origin` to the last progress.
    last: AtomicU64,
    /// Requests whose response is not ready yet.
    computing: AtomicUsize,
    /// Of those, requests whose handler waits for more of the request body.
    awaiting_body: AtomicUsize,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            computing: AtomicUsize::new(0),
            awaiting_body: AtomicUsize::new(0),
        })
    }

    /// Something moved: restart the idle clock.
    pub fn touch(&self) {
        let ms = self.origin.elapsed().as_millis() as u64;
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    /// Is the server computing an answer (so the silence is not the client's)?
    fn server_busy(&self) -> bool {
        self.computing.load(Ordering::Relaxed) > self.awaiting_body.load(Ordering::Relaxed)
    }

    /// Resolves once the connection has been idle for `limit`: no byte moved and the
    /// server was not computing an answer.
    pub async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() < deadline {
                tokio::time::sleep_until(deadline).await;
                continue;
            }
            if self.server_busy() {
                // Not the client's silence; look again once the answer could be done.
                self.touch();
                continue;
            }
            return;
        }
    }
}

/// Marks one request as computing from its start until its response is ready (or the
/// request is dropped).
pub struct Busy(Arc<Activity>);

impl Busy {
    pub fn start(activity: Arc<Activity>) -> Self {
        activity.computing.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.computing.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A socket that notes every byte read or written in its [`Activity`].
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that notes in its [`Activity`] while its reader waits for the client.
pub struct WatchedBody<B> {
    inner: B,
    activity: Arc<Activity>,
    waiting: bool,
}

impl<B> WatchedBody<B> {
    pub fn new(inner: B, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            activity,
            waiting: false,
        }
    }

    fn set_waiting(&mut self, waiting: bool) {
        if waiting != self.waiting {
            self.waiting = waiting;
            if waiting {
                self.activity.awaiting_body.fetch_add(1, Ordering::Relaxed);
            } else {
                self.activity.awaiting_body.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl<B> Drop for WatchedBody<B> {
    fn drop(&mut self) {
        self.set_waiting(false);
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for WatchedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        self.set_waiting(polled.is_pending());
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test]
    async fn idle_waits_out_the_server_but_not_the_client() {
        let limit = ms(100);
        // Silence with nothing in flight: idle after the limit.
        let a = Activity::new();
        let t = Instant::now();
        a.idle_for(limit).await;
        assert!(
            (ms(100)..ms(1100)).contains(&t.elapsed()),
            "{:?}",
            t.elapsed()
        );

        // The server computes for 300 ms: not idle until 100 ms after it answered.
        let a = Activity::new();
        let busy = Busy::start(a.clone());
        let watcher = tokio::spawn({
            let a = a.clone();
            async move {
                let t = Instant::now();
                a.idle_for(limit).await;
                t.elapsed()
            }
        });
        tokio::time::sleep(ms(300)).await;
        drop(busy);
        let waited = watcher.await.unwrap();
        assert!((ms(400)..ms(1400)).contains(&waited), "{waited:?}");

        // A handler waiting on the client's body does not stop the clock.
        let a = Activity::new();
        let _busy = Busy::start(a.clone());
        a.awaiting_body.fetch_add(1, Ordering::Relaxed);
        let t = Instant::now();
        a.idle_for(limit).await;
        assert!(
            (ms(100)..ms(1100)).contains(&t.elapsed()),
            "{:?}",
            t.elapsed()
        );
    }
}
