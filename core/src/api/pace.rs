//! The API's rate limit, kept per token.
//!
//! A rate limit is the token's, not one request's: after a 429 every
//! request of that token would meet the same 429, so none starts until
//! `X-RateLimit-Wait` has passed (those in flight finish). Where the API
//! announces its limit (`X-RateLimit-Limit: 10/2`, 10 requests per 2
//! seconds, with `X-RateLimit-Remaining`), the client mirrors it with a
//! token bucket of its own and starts requests at that pace, rather than
//! meeting 429s. Without those headers nothing is paced (the API's own
//! answers stay the rule).
//!
//! The client records what each answer says ([`Pace::observe`]); the
//! engine, which knows the mode (real-time never waits), asks before each
//! request ([`Pace::admit`]). One [`Pace`] per token and client: the
//! requests of every step of a process share it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Tokens kept before the map is cleared (a process sees a handful).
const MAX_TOKENS: usize = 64;
/// The share of the announced rate the client uses: a little below it, so
/// that the client's clock and the server's, and the requests' travel
/// times, never add up to a burst over the limit.
const RATE_SHARE: f64 = 0.99;
/// Longest pause believed from one 429: the retry policy's bound on one
/// wait (a longer one is a server's mistake, or an outage the policy
/// handles).
const MAX_PAUSE: Duration = Duration::from_secs(crate::retry::MAX_RATE_LIMIT_WAIT_SECS as u64);

/// What [`Pace::admit`] answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// Start the request now (a request's share of the bucket is taken).
    Go,
    /// Ask again after this long.
    Wait(Duration),
}

/// The rate-limit state of one token.
#[derive(Debug, Default)]
pub struct Pace {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// No request starts before this (a 429's `X-RateLimit-Wait`).
    paused_until: Option<Instant>,
    /// The announced limit, mirrored.
    bucket: Option<Bucket>,
    /// Requests admitted and not answered yet.
    in_flight: u32,
    /// Requests admitted before the limit was known.
    unpaced: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    capacity: f64,
    /// Requests per second the client allows itself.
    per_sec: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * self.per_sec).min(self.capacity);
        self.at = now;
    }
}

impl Pace {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long the token is paused by a 429 (None: not paused).
    pub fn paused_for(&self, now: Instant) -> Option<Duration> {
        self.lock()
            .paused_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    /// Whether a request may start now; [`Admission::Go`] counts it in
    /// flight until its answer is [`observe`](Self::observe)d.
    pub fn admit(&self, now: Instant) -> Admission {
        let mut s = self.lock();
        if let Some(until) = s.paused_until {
            if until > now {
                return Admission::Wait(until - now);
            }
            s.paused_until = None;
        }
        if let Some(b) = s.bucket.as_mut() {
            b.refill(now);
            if b.tokens < 1.0 {
                let secs = (1.0 - b.tokens) / b.per_sec;
                return Admission::Wait(Duration::from_secs_f64(secs.clamp(0.001, 60.0)));
            }
            b.tokens -= 1.0;
        } else {
            s.unpaced = s.unpaced.saturating_add(1);
        }
        s.in_flight = s.in_flight.saturating_add(1);
        Admission::Go
    }

    /// Starts a request whatever the pace says (real-time mode, which never
    /// waits: the API's answer decides), still counting it.
    pub fn force(&self, now: Instant) {
        let mut s = self.lock();
        if let Some(b) = s.bucket.as_mut() {
            b.refill(now);
            b.tokens -= 1.0;
        } else {
            s.unpaced = s.unpaced.saturating_add(1);
        }
        s.in_flight = s.in_flight.saturating_add(1);
    }

    /// What an answer said: the limit headers (raw values) and, for a 429,
    /// its wait in seconds.
    pub fn observe(
        &self,
        limit: Option<&str>,
        remaining: Option<&str>,
        rate_limited: Option<f64>,
        now: Instant,
    ) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if let Some((capacity, per_sec)) = limit.and_then(parse_limit) {
            let per_sec = per_sec * RATE_SHARE;
            match s.bucket.as_mut() {
                Some(b) => {
                    b.refill(now);
                    b.capacity = capacity;
                    b.per_sec = per_sec;
                    b.tokens = b.tokens.min(capacity);
                }
                None => {
                    s.bucket = Some(Bucket {
                        capacity,
                        per_sec,
                        tokens: first_tokens(capacity, remaining, s.unpaced, s.in_flight),
                        at: now,
                    });
                }
            }
        }
        if let Some(wait) = rate_limited {
            let wait = if wait.is_finite() && wait >= 0.0 {
                Duration::from_secs_f64(wait).min(MAX_PAUSE)
            } else {
                Duration::from_secs(1)
            };
            let until = now + wait;
            s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
            if let Some(b) = s.bucket.as_mut() {
                // The server's bucket is empty: so is the mirror.
                b.tokens = b.tokens.min(0.0);
                b.at = now.max(b.at);
            }
        }
    }
}

/// The mirror's tokens when the limit is first seen, `unpaced` requests
/// after the client started using the token, `in_flight` of them still
/// unanswered. When `remaining` fits a bucket that was full at the start
/// (`remaining >= capacity - unpaced`: answers come back in any order, so
/// this one may have been counted early), it was: `capacity - unpaced`
/// left (or more: it refilled meanwhile). Otherwise someone else uses the
/// token too: `remaining` less the requests still on their way (a lower
/// bound whatever the order). Either way a 429 later sets the mirror right.
fn first_tokens(capacity: f64, remaining: Option<&str>, unpaced: u32, in_flight: u32) -> f64 {
    let full_start = capacity - f64::from(unpaced);
    let left = remaining
        .and_then(|r| r.trim().parse::<f64>().ok())
        .filter(|r| r.is_finite() && *r >= 0.0)
        .unwrap_or(full_start.max(0.0));
    let bound = left.min(capacity) - f64::from(in_flight);
    let tokens = if left >= full_start {
        full_start.max(bound)
    } else {
        bound
    };
    tokens.max(-capacity)
}

/// `X-RateLimit-Limit`: `<requests>/<seconds>` (the form the API's
/// documentation quotes), as (capacity, requests per second). Anything
/// else is not a limit the client can follow.
fn parse_limit(raw: &str) -> Option<(f64, f64)> {
    let (n, per) = raw.trim().split_once('/')?;
    let n: f64 = n.trim().parse().ok()?;
    let per: f64 = per.trim().trim_end_matches('s').parse().ok()?;
    (n.is_finite() && per.is_finite() && n >= 1.0 && per > 0.0).then_some((n, n / per))
}

/// The paces of one client, by token (a hash of it: the token itself is
/// not kept here).
#[derive(Debug, Default)]
pub(super) struct Paces {
    map: Mutex<HashMap<u64, Arc<Pace>>>,
}

impl Paces {
    pub(super) fn of(&self, token: &str) -> Arc<Pace> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        token.hash(&mut h);
        let key = h.finish();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(&key) && map.len() >= MAX_TOKENS {
            map.clear();
        }
        map.entry(key).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_limit_header_reads_requests_per_seconds() {
        assert_eq!(parse_limit("10/2"), Some((10.0, 5.0)));
        assert_eq!(parse_limit(" 100 / 60s "), Some((100.0, 100.0 / 60.0)));
        for bad in ["", "10", "x/2", "10/0", "0/2", "10/-1", "NaN/2"] {
            assert_eq!(parse_limit(bad), None, "{bad}");
        }
    }

    #[test]
    fn nothing_is_paced_before_the_api_says_a_limit() {
        let pace = Pace::default();
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(pace.admit(now), Admission::Go);
        }
    }

    #[test]
    fn a_429_pauses_every_request_of_the_token_for_its_wait() {
        let pace = Pace::default();
        let t0 = Instant::now();
        assert_eq!(pace.admit(t0), Admission::Go);
        pace.observe(None, None, Some(1.5), t0);
        match pace.admit(t0 + ms(100)) {
            Admission::Wait(d) => assert_eq!(d, ms(1400)),
            other => panic!("{other:?}"),
        }
        assert_eq!(pace.paused_for(t0 + ms(1000)), Some(ms(500)));
        // A shorter wait does not shorten the pause.
        pace.observe(None, None, Some(0.1), t0 + ms(200));
        assert!(matches!(pace.admit(t0 + ms(1000)), Admission::Wait(_)));
        assert_eq!(pace.admit(t0 + ms(1500)), Admission::Go);
        assert_eq!(pace.paused_for(t0 + ms(1500)), None);
    }

    #[test]
    fn nonsense_waits_are_bounded() {
        let pace = Pace::default();
        let t0 = Instant::now();
        pace.observe(None, None, Some(f64::INFINITY), t0);
        assert_eq!(pace.paused_for(t0), Some(Duration::from_secs(1)));
        pace.observe(None, None, Some(1e12), t0);
        assert_eq!(pace.paused_for(t0), Some(MAX_PAUSE));
    }

    #[test]
    fn an_announced_limit_paces_requests_at_its_rate() {
        let pace = Pace::default();
        let t0 = Instant::now();
        assert_eq!(pace.admit(t0), Admission::Go);
        // 10 per 2 s, 9 left after this one.
        pace.observe(Some("10/2"), Some("9"), None, t0);
        let mut started = 1;
        let mut t = t0;
        let end = t0 + Duration::from_secs(10);
        while t < end {
            match pace.admit(t) {
                Admission::Go => {
                    started += 1;
                    pace.observe(Some("10/2"), None, None, t);
                }
                Admission::Wait(d) => t += d,
            }
        }
        // The burst the bucket holds (10), then 5 a second, less the margin.
        let allowed = 10.0 + 10.0 * 5.0;
        assert!(f64::from(started) <= allowed, "{started}");
        assert!(f64::from(started) >= allowed * 0.95, "{started}");
    }

    #[test]
    fn requests_already_in_flight_count_against_the_first_remaining() {
        let pace = Pace::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(pace.admit(t0), Admission::Go);
        }
        // The first answer back was the fifth the server saw (5 left): a
        // bucket full at the start, now empty.
        pace.observe(Some("10/2"), Some("5"), None, t0);
        assert!(matches!(pace.admit(t0), Admission::Wait(_)));
        // 0.2 s later: one request's worth (at the rate used).
        assert!(matches!(pace.admit(t0 + ms(150)), Admission::Wait(_)));
        assert_eq!(pace.admit(t0 + ms(210)), Admission::Go);
    }

    #[test]
    fn the_first_remaining_is_trusted_when_the_bucket_was_not_full() {
        // Another process used the token: 2 left after the first of 4.
        assert_eq!(first_tokens(10.0, Some("2"), 4, 3), -1.0);
        // A full bucket at the start: 10 - 4 whatever the order of the answers.
        assert_eq!(first_tokens(10.0, Some("9"), 4, 3), 6.0);
        assert_eq!(first_tokens(10.0, Some("6"), 4, 3), 6.0);
        assert_eq!(first_tokens(10.0, None, 4, 3), 6.0);
        assert_eq!(first_tokens(10.0, Some("0"), 30, 9), -9.0);
    }

    #[test]
    fn each_token_has_its_own_pace() {
        let paces = Paces::default();
        let a = paces.of("token-a");
        let t0 = Instant::now();
        a.observe(None, None, Some(5.0), t0);
        assert!(paces.of("token-a").paused_for(t0).is_some());
        assert!(paces.of("token-b").paused_for(t0).is_none());
    }
}
