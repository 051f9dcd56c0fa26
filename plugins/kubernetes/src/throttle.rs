//! Client-side limits on requests to the API server: `apiserver_qps` with `apiserver_burst` (a
//! token bucket, client-go's `flowcontrol` limiter) and `apiserver_max_inflight` (at most so
//! many requests waiting for their response headers, CoreDNS's round tripper).
//!
//! Both are tower layers on the kube client's service stack. The client drives that stack from
//! one buffer worker, so a request that must wait holds back the ones behind it, in order, and
//! the callers simply await their responses.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// client-go's defaults, used for whichever of the two is not given.
pub const DEFAULT_QPS: f64 = 5.0;
/// See [`DEFAULT_QPS`].
pub const DEFAULT_BURST: u32 = 10;

/// Tokens refilled at `qps` a second up to `burst`; one per request. It starts full, as
/// client-go's does, so a start-up's handful of lists and watches go out at once.
#[derive(Debug)]
struct Bucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self { qps, burst, tokens: burst, at: Instant::now() }
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.qps;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / self.qps))
    }
}

/// Limits the requests through it to `qps` a second with bursts of `burst`.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    bucket: Arc<Mutex<Bucket>>,
}

impl RateLimitLayer {
    /// A limit of `qps` (above 0) requests a second, `burst` at once.
    pub fn new(qps: f64, burst: u32) -> Self {
        Self { bucket: Arc::new(Mutex::new(Bucket::new(qps, burst))) }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited { inner, bucket: self.bucket.clone(), wait: None, token: false }
    }
}

/// The service [`RateLimitLayer`] makes: ready only once it holds a token.
#[derive(Debug)]
pub struct RateLimited<S> {
    inner: S,
    bucket: Arc<Mutex<Bucket>>,
    wait: Option<Pin<Box<Sleep>>>,
    /// A token taken and not yet spent on a request.
    token: bool,
}

impl<S: Service<R>, R> Service<R> for RateLimited<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        while !self.token {
            if let Some(wait) = &mut self.wait {
                ready!(wait.as_mut().poll(cx));
                self.wait = None;
            }
            let taken = self.bucket.lock().unwrap_or_else(|e| e.into_inner()).take(Instant::now());
            match taken {
                Ok(()) => self.token = true,
                Err(delay) => self.wait = Some(Box::pin(tokio::time::sleep(delay))),
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        self.token = false;
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_starts_full_and_refills_at_its_rate() {
        let start = Instant::now();
        let mut b = Bucket { qps: 2.0, burst: 3.0, tokens: 3.0, at: start };
        for _ in 0..3 {
            assert_eq!(b.take(start), Ok(()));
        }
        assert_eq!(b.take(start), Err(Duration::from_millis(500)), "empty: one token per 0.5 s");
        assert_eq!(b.take(start + Duration::from_millis(500)), Ok(()));
        // A long pause refills it only up to the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.take(later), Ok(()));
        }
        assert!(b.take(later).is_err());
    }
}
