//! Requests in flight: at most [`MAX_IN_FLIGHT`] at once, the next ones
//! started before the answers already there are committed, and the 429
//! waits of one request.

use crate::api::{Admission, ApiError, Pace, MAX_IN_FLIGHT};
use crate::retry::{self, Mode};
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use std::collections::VecDeque;
use std::future::Future;
use std::time::Instant;

/// The requests of one step: those waiting to start, and those in flight
/// (started by `start`).
pub(super) struct Window<J, F, S> {
    waiting: VecDeque<J>,
    in_flight: FuturesUnordered<F>,
    start: S,
}

impl<J, F: Future, S: FnMut(J) -> F> Window<J, F, S> {
    pub(super) fn new(waiting: impl IntoIterator<Item = J>, start: S) -> Self {
        Window {
            waiting: waiting.into_iter().collect(),
            in_flight: FuturesUnordered::new(),
            start,
        }
    }

    /// Queues one more request (the good orders of a rejected one).
    pub(super) fn push(&mut self, job: J) {
        self.waiting.push_back(job);
    }

    /// The answers already there (at least one; None when nothing is left).
    /// The window is refilled as each is taken and the new requests are on
    /// the wire before this returns: the store is synchronous and runs on
    /// this thread, so the commits that follow overlap the network instead
    /// of delaying it.
    pub(super) async fn ready(&mut self) -> Option<Vec<F::Output>> {
        self.refill();
        let first = self.in_flight.next().await?;
        let mut ready = vec![first];
        loop {
            self.refill();
            match self.in_flight.next().now_or_never() {
                Some(Some(answer)) => ready.push(answer),
                _ => break,
            }
        }
        let_requests_leave().await;
        Some(ready)
    }

    /// Tops the requests in flight up to [`MAX_IN_FLIGHT`].
    fn refill(&mut self) {
        while self.in_flight.len() < MAX_IN_FLIGHT {
            match self.waiting.pop_front() {
                Some(job) => self.in_flight.push((self.start)(job)),
                None => break,
            }
        }
    }
}

/// Lets the runtime run its other tasks once (hyper's connection tasks:
/// they write the requests just started to their sockets) before this
/// thread turns to the store.
async fn let_requests_leave() {
    tokio::task::yield_now().await;
}

/// One API call, started when the token's pace allows it (batch mode waits
/// out a 429's pause and the API's announced rate, see [`crate::api::pace`];
/// real-time mode never waits: a paused token answers its 429 at once), and
/// tried again after each 429 for as long as the policy says
/// ([`retry::rate_limit_wait`]: batch mode only, a bounded wait, a bounded
/// number of times).
pub(super) async fn with_rate_limit_waits<T, Fut>(
    mode: Mode,
    pace: &Pace,
    mut call: impl FnMut() -> Fut,
) -> Result<T, ApiError>
where
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut waits = 0;
    loop {
        if mode == Mode::Batch {
            admitted(pace).await;
        } else if let Some(left) = pace.paused_for(Instant::now()) {
            return Err(ApiError::RateLimited {
                wait_secs: left.as_secs_f64(),
            });
        } else {
            pace.force(Instant::now());
        }
        match call().await {
            Err(err) => match retry::rate_limit_wait(mode, &err, waits) {
                // The 429 paused the token (the client told the pace):
                // admitted() waits it out, for this request and all others.
                Some(_) => waits += 1,
                None => return Err(err),
            },
            ok => return ok,
        }
    }
}

/// Waits until the pace lets one request start.
async fn admitted(pace: &Pace) {
    loop {
        match pace.admit(Instant::now()) {
            Admission::Go => return,
            Admission::Wait(d) => tokio::time::sleep(d).await,
        }
    }
}
