//! Rate-limit mode (config `rate_limit`): a token bucket per bearer token.
//!
//! Shopping Feed publishes no quota; a connector's documentation reads
//! `X-RateLimit-Limit: 10/2` (10 requests per 2 seconds) with
//! `X-RateLimit-Remaining`, and a 429 carries `X-RateLimit-Wait` (seconds,
//! maybe fractional). The limit is the token's, not one request's, so the
//! bucket is keyed by the bearer value: a client that keeps sending after a
//! 429 meets more 429s until the wait is over.

use std::collections::HashMap;
use std::time::Instant;

use hyper::header::HeaderValue;
use serde_json::{json, Value};

use crate::api::Resp;

/// `requests` per `per_ms` milliseconds, burst of `requests`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub requests: u32,
    pub per_ms: u64,
}

impl RateLimit {
    /// Tokens regained per millisecond.
    fn rate(self) -> f64 {
        f64::from(self.requests) / self.per_ms as f64
    }

    /// `10/2`: requests per seconds, as the connector's documentation shows it.
    fn limit_header(self) -> String {
        format!("{}/{}", self.requests, self.per_ms as f64 / 1000.0)
    }
}

/// Parses the `rate_limit` config value; null turns the mode off.
pub fn parse(v: &Value) -> Result<Option<RateLimit>, String> {
    const SHAPE: &str =
        "rate_limit must be null or {\"requests\": n >= 1, \"per_ms\": n >= 1} (integers)";
    if v.is_null() {
        return Ok(None);
    }
    let o = v.as_object().ok_or(SHAPE)?;
    if o.keys().any(|k| k != "requests" && k != "per_ms") {
        return Err(SHAPE.into());
    }
    let requests = o.get("requests").and_then(Value::as_u64);
    let per_ms = o.get("per_ms").and_then(Value::as_u64);
    match (requests, per_ms) {
        (Some(r @ 1..=1_000_000), Some(p @ 1..)) => Ok(Some(RateLimit {
            requests: r as u32,
            per_ms: p,
        })),
        _ => Err(SHAPE.into()),
    }
}

pub fn to_json(rl: Option<RateLimit>) -> Value {
    match rl {
        Some(r) => json!({"requests": r.requests, "per_ms": r.per_ms}),
        None => Value::Null,
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What the bucket said about one request.
#[derive(Clone, Copy, Debug)]
pub enum Verdict {
    /// Served; `remaining` whole requests are left right now.
    Allowed { remaining: u64 },
    /// Refused: a request is allowed again in `wait_s` seconds.
    Limited { wait_s: f64 },
}

/// The buckets of every token seen while the mode is on, plus the count of
/// 429s they gave (stats `rate_limited`).
#[derive(Default)]
pub struct Buckets {
    by_token: HashMap<String, Bucket>,
    pub limited: u64,
}

impl Buckets {
    /// Forgets every bucket: a new limit starts everyone with a full one.
    pub fn clear(&mut self) {
        self.by_token.clear();
    }

    /// Takes one request from the bucket of `token` ("" when the request
    /// carries none: unauthenticated requests share one bucket).
    pub fn take(&mut self, rl: RateLimit, token: &str, now: Instant) -> Verdict {
        let cap = f64::from(rl.requests);
        let b = self.by_token.entry(token.to_string()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        let elapsed_ms = now.saturating_duration_since(b.at).as_secs_f64() * 1000.0;
        b.tokens = (b.tokens + elapsed_ms * rl.rate()).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Verdict::Allowed {
                remaining: b.tokens.floor() as u64,
            }
        } else {
            self.limited += 1;
            // rounded up to the millisecond so a client that waits exactly
            // this long finds a whole token
            let wait_ms = ((1.0 - b.tokens) / rl.rate()).ceil().max(1.0);
            Verdict::Limited {
                wait_s: wait_ms / 1000.0,
            }
        }
    }
}

/// Adds `X-RateLimit-Limit` / `X-RateLimit-Remaining` (and `X-RateLimit-Wait`
/// on a refusal) to an answer given while the mode is on.
pub fn add_headers(resp: &mut Resp, rl: RateLimit, v: Verdict) {
    let h = resp.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set("x-ratelimit-limit", rl.limit_header());
    match v {
        Verdict::Allowed { remaining } => set("x-ratelimit-remaining", remaining.to_string()),
        Verdict::Limited { wait_s } => {
            set("x-ratelimit-remaining", "0".into());
            set("x-ratelimit-wait", wait_s.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills_at_the_rate() {
        let rl = RateLimit {
            requests: 2,
            per_ms: 1000,
        };
        let mut b = Buckets::default();
        let t0 = Instant::now();
        assert!(matches!(
            b.take(rl, "a", t0),
            Verdict::Allowed { remaining: 1 }
        ));
        assert!(matches!(
            b.take(rl, "a", t0),
            Verdict::Allowed { remaining: 0 }
        ));
        match b.take(rl, "a", t0) {
            Verdict::Limited { wait_s } => assert_eq!(wait_s, 0.5),
            v => panic!("{v:?}"),
        }
        // another token has its own bucket
        assert!(matches!(b.take(rl, "b", t0), Verdict::Allowed { .. }));
        // half a period later one request is allowed again
        let t1 = t0 + Duration::from_millis(500);
        assert!(matches!(
            b.take(rl, "a", t1),
            Verdict::Allowed { remaining: 0 }
        ));
        assert_eq!(b.limited, 1);
        assert_eq!(rl.limit_header(), "2/1");
        assert_eq!(
            RateLimit {
                requests: 10,
                per_ms: 2500
            }
            .limit_header(),
            "10/2.5"
        );
    }

    #[test]
    fn parses_the_config_value() {
        assert_eq!(parse(&Value::Null), Ok(None));
        assert_eq!(
            parse(&json!({"requests": 10, "per_ms": 2000})),
            Ok(Some(RateLimit {
                requests: 10,
                per_ms: 2000
            }))
        );
        for bad in [
            json!({"requests": 0, "per_ms": 1}),
            json!({"requests": 1}),
            json!({"requests": 1, "per_ms": 1, "x": 1}),
            json!(5),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
