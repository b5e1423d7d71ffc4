//! Table-driven tests of the pure decisions of the retry policy.

use super::*;
use serde_json::json;

const NOW: i64 = 1_700_000_000;

/// Retries due at once: `due_at` is `NOW` exactly.
const AT_ONCE: RetryPolicy = RetryPolicy {
    base_delay: 0,
    max_failures: 3,
};

/// An order of a test request, named in a detail by `name`.
#[derive(Debug, Clone, PartialEq)]
struct Order {
    id: i64,
    attempts: i64,
    name: &'static str,
}

impl Attempted for Order {
    fn id(&self) -> i64 {
        self.id
    }
    fn attempts(&self) -> i64 {
        self.attempts
    }
}

impl SentOrder for Order {
    fn named_in(&self, detail: &str) -> bool {
        detail.contains(self.name)
    }
    fn ignored_in(&self, report: &Value) -> bool {
        report.get("reference").and_then(Value::as_str) == Some(self.name)
    }
}

fn orders(names: &[&'static str]) -> Vec<Order> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| Order {
            id: i as i64 + 1,
            attempts: 0,
            name,
        })
        .collect()
}

/// Shows that a message went through the cleaner.
fn clean(msg: &str) -> String {
    format!("<{msg}>")
}

fn retry(message: &str, order_failure: bool) -> Change {
    Change::Retry {
        due_at: NOW,
        message: message.into(),
        order_failure,
        max_failures: AT_ONCE.max_failures,
    }
}

#[test]
fn delay_of_the_nth_retry() {
    // (base, n, jitter unit, expected seconds)
    let cases: [(i64, i64, f64, i64); 16] = [
        (0, 1, 0.5, 0),
        (0, 4, 0.0, 0),
        (-5, 2, 0.5, 0),
        (60, 1, 0.5, 60),
        (60, 1, 0.0, 48),    // -20 %
        (60, 1, 0.9999, 72), // +20 % (rounded)
        (60, 1, 7.0, 72),    // the unit is clamped to [0, 1]
        (60, 0, 0.5, 60),    // n below 1 counts as the first retry
        (60, 2, 0.5, 120),
        (60, 3, 0.5, 240),
        (60, 3, 0.0, 192),
        (60, 7, 0.5, 3600), // 60 × 64 = 3840: capped
        (60, 1_000, 0.5, 3600),
        (3000, 1, 1.0, 3600), // 3600 exactly
        (3000, 2, 0.0, 3600), // 4800 even at -20 %: capped
        (1, 1, 0.0, 1),       // never below a second
    ];
    for (base, n, unit, expected) in cases {
        assert_eq!(
            delay_with(base, n, unit),
            expected,
            "delay_with({base}, {n}, {unit})"
        );
    }
}

#[test]
fn delay_jitter_stays_within_twenty_percent() {
    for _ in 0..200 {
        let d1 = delay(60, 1);
        assert!((48..=72).contains(&d1), "{d1}");
        let d3 = delay(60, 3);
        assert!((192..=288).contains(&d3), "{d3}");
        assert!(delay(60, 30) <= MAX_RETRY_DELAY_SECS);
        assert_eq!(delay(60, 30), 3600.min(delay(60, 30)));
        let due = RetryPolicy {
            base_delay: 60,
            max_failures: 5,
        }
        .due_at(NOW, 2); // the third retry
        assert!((NOW + 192..=NOW + 288).contains(&due));
    }
    assert_eq!(delay(0, 4), 0);
    assert_eq!(AT_ONCE.due_at(NOW, 9), NOW);
}

#[test]
fn rate_limit_waits() {
    let limited = |wait_secs| ApiError::RateLimited { wait_secs };
    let secs = |s: f64| Some(Duration::from_secs_f64(s));
    // (mode, error, waits already made, expected wait)
    let cases = [
        (Mode::Batch, limited(0.2), 0, secs(0.2)),
        (Mode::Batch, limited(5.0), 4, secs(5.0)),
        (
            Mode::Batch,
            limited(120.0),
            0,
            secs(MAX_RATE_LIMIT_WAIT_SECS),
        ),
        (Mode::Batch, limited(-1.0), 0, secs(1.0)),
        (Mode::Batch, limited(f64::NAN), 0, secs(1.0)),
        (Mode::Batch, limited(f64::INFINITY), 0, secs(1.0)),
        (Mode::Batch, limited(0.2), MAX_RATE_LIMIT_RETRIES, None),
        (Mode::RealTime, limited(0.2), 0, None),
        (
            Mode::Batch,
            ApiError::Server {
                status: 503,
                detail: "down".into(),
            },
            0,
            None,
        ),
        (Mode::Batch, ApiError::Unauthorized { status: 401 }, 0, None),
    ];
    for (mode, err, waits, expected) in cases {
        assert_eq!(
            rate_limit_wait(mode, &err, waits),
            expected,
            "{mode:?} {err:?} after {waits} waits"
        );
    }
}

#[test]
fn requeue_counts_attempts_and_failures() {
    // (attempts, failures, order failure, limit) -> (attempts, failures, state)
    let cases = [
        ((0, 0, false, 3), (1, 0, State::Pending)),
        ((4, 2, false, 3), (5, 2, State::Pending)), // an outage never fails
        ((99, 0, false, 1), (100, 0, State::Pending)),
        ((0, 0, true, 3), (1, 1, State::Pending)),
        ((3, 1, true, 3), (4, 2, State::Pending)),
        ((3, 2, true, 3), (4, 3, State::Failed)), // the limit reached
        ((0, 0, true, 1), (1, 1, State::Failed)),
        ((7, 5, true, 3), (8, 6, State::Failed)), // past it (limit lowered)
    ];
    for ((attempts, failures, order_failure, limit), (a, f, state)) in cases {
        assert_eq!(
            requeue(attempts, failures, order_failure, limit),
            Requeued {
                attempts: a,
                failures: f,
                state
            },
            "requeue({attempts}, {failures}, {order_failure}, {limit})"
        );
    }
}

#[test]
fn refused_token_releases_every_row() {
    assert_eq!(
        release([3, 1, 2]),
        vec![
            (3, Change::Release),
            (1, Change::Release),
            (2, Change::Release)
        ]
    );
    assert!(release(Vec::new()).is_empty());
}

#[test]
fn ticket_state_to_change() {
    let row = Order {
        id: 7,
        attempts: 2,
        name: "A",
    };
    let ticket = |state: &str, message: Option<&str>| Ticket {
        id: "t1".into(),
        batch_id: "b1".into(),
        state: state.into(),
        payload: json!({"id": 7}),
        message: message.map(str::to_string),
        scheduled_at: None,
    };
    let done = |m: Option<&str>| Change::Done {
        message: m.map(str::to_string),
    };
    // (ticket state and message, or no ticket; processing) -> change
    let cases: Vec<(Option<Ticket>, bool, Change)> = vec![
        (Some(ticket("succeed", None)), false, done(None)),
        (Some(ticket("succeed", Some("ok"))), true, done(None)),
        (
            Some(ticket("canceled", Some("order closed"))),
            false,
            done(Some("<canceled by Shopping Feed: order closed>")),
        ),
        (
            Some(ticket("cancelled", None)),
            false,
            done(Some("<canceled by Shopping Feed: no reason given>")),
        ),
        (
            Some(ticket("canceled", Some(""))),
            false,
            done(Some("<canceled by Shopping Feed: no reason given>")),
        ),
        (
            Some(ticket("failed", Some("bad carrier"))),
            false,
            retry("<bad carrier>", true),
        ),
        (
            Some(ticket("failed", None)),
            true,
            retry("<ticket failed>", true),
        ),
        (Some(ticket("scheduled", None)), true, Change::Release),
        (Some(ticket("running", None)), false, Change::Release),
        // A state this client does not know: the row has had 2 tries, the
        // limit is 3, so this third one gives up (see the next test for
        // the deferral before the limit).
        (
            Some(ticket("SUCCEED", None)),
            false,
            Change::Failed {
                message: "<ticket t1: state 'SUCCEED' unknown to this client (read again later)> (gave up after 3 tries)".into(),
            },
        ),
        (None, true, Change::Release),
        (
            None,
            false,
            retry("<no ticket for this order in batch b1>", false),
        ),
    ];
    for (ticket, processing, expected) in cases {
        assert_eq!(
            AT_ONCE.ticket_change(&row, ticket.as_ref(), processing, "b1", NOW, &clean),
            expected,
            "{ticket:?}, processing {processing}"
        );
    }
}

#[test]
fn unknown_ticket_states_are_deferred_then_failed() {
    let ticket = Ticket {
        id: "t9".into(),
        batch_id: "b1".into(),
        state: "done".into(),
        payload: json!({"id": 7}),
        message: None,
        scheduled_at: None,
    };
    let msg = "<ticket t9: state 'done' unknown to this client (read again later)>";
    // (attempts before, expected change) with a limit of 3
    let cases = [
        (
            0,
            Change::Defer {
                due_at: NOW,
                message: msg.into(),
            },
        ),
        (
            1,
            Change::Defer {
                due_at: NOW,
                message: msg.into(),
            },
        ),
        (
            2,
            Change::Failed {
                message: format!("{msg} (gave up after 3 tries)"),
            },
        ),
        (
            40,
            Change::Failed {
                message: format!("{msg} (gave up after 41 tries)"),
            },
        ),
    ];
    for (attempts, expected) in cases {
        let row = Order {
            id: 7,
            attempts,
            name: "A",
        };
        let got = AT_ONCE.ticket_change(&row, Some(&ticket), false, "b1", NOW, &clean);
        assert_eq!(got, expected, "attempts {attempts}");
    }
    for state in [
        "scheduled",
        "running",
        "succeed",
        "failed",
        "canceled",
        "cancelled",
    ] {
        assert!(known_ticket_state(state), "{state}");
    }
    for state in ["SUCCEED", "Succeed", "done", "", "succeeded"] {
        assert!(!known_ticket_state(state), "{state}");
    }
}

#[test]
fn a_refused_ticket_read_gives_up_at_the_limit() {
    let tired = [Order {
        id: 1,
        attempts: 2,
        name: "A",
    }];
    let rows: Vec<&Order> = tired.iter().collect();
    let err = ApiError::Rejected {
        status: 400,
        detail: "bad".into(),
    };
    let failure = AT_ONCE.read_failed(&rows, &err, "b1", NOW, &clean);
    assert_eq!(
        failure.changes,
        vec![(
            1,
            Change::Failed {
                message: "<ticket batch b1: HTTP 400: bad> (gave up after 3 tries)".into()
            }
        )]
    );
    // An outage never gives up, however many tries.
    let outage = ApiError::Server {
        status: 503,
        detail: "down".into(),
    };
    let failure = AT_ONCE.read_failed(&rows, &outage, "b1", NOW, &clean);
    assert!(matches!(failure.changes[0].1, Change::Defer { .. }));
}

#[test]
fn failed_ticket_read_to_changes() {
    let rows = orders(&["A", "B"]);
    let rows: Vec<&Order> = rows.iter().collect();
    let defer = |m: &str| Change::Defer {
        due_at: NOW,
        message: m.into(),
    };
    let cases = [
        (
            ApiError::Rejected {
                status: 404,
                detail: "gone".into(),
            },
            "<ticket batch b1 unknown to Shopping Feed (404)>",
            retry("<ticket batch b1 unknown to Shopping Feed (404)>", false),
        ),
        (
            ApiError::Server {
                status: 502,
                detail: "bad gateway".into(),
            },
            "<ticket batch b1: HTTP 502: bad gateway>",
            defer("<ticket batch b1: HTTP 502: bad gateway>"),
        ),
        (
            ApiError::Transport("timeout".into()),
            "<ticket batch b1: network: timeout>",
            defer("<ticket batch b1: network: timeout>"),
        ),
        (
            ApiError::Rejected {
                status: 400,
                detail: "bad".into(),
            },
            "<ticket batch b1: HTTP 400: bad>",
            defer("<ticket batch b1: HTTP 400: bad>"),
        ),
    ];
    for (err, error, change) in cases {
        let failure = AT_ONCE.read_failed(&rows, &err, "b1", NOW, &clean);
        assert_eq!(failure.error, error, "{err:?}");
        assert_eq!(
            failure.changes,
            vec![(1, change.clone()), (2, change)],
            "{err:?}"
        );
    }
}

#[test]
fn failed_request_to_changes() {
    let rejected = |detail: &str| ApiError::Rejected {
        status: 422,
        detail: detail.into(),
    };
    let outage = ApiError::Server {
        status: 503,
        detail: "down".into(),
    };
    // (mode, orders, error) -> (changes as (id, order failure), requests sent again as ids)
    type Expected = (Vec<(i64, bool)>, Vec<Vec<i64>>);
    let cases: Vec<(Mode, &[&'static str], ApiError, Expected)> = vec![
        // An outage: every order waits, none fails, nothing sent again.
        (
            Mode::Batch,
            &["A", "B"][..],
            outage,
            (vec![(1, false), (2, false)], vec![]),
        ),
        (
            Mode::RealTime,
            &["A"][..],
            ApiError::Transport("refused".into()),
            (vec![(1, false)], vec![]),
        ),
        (
            Mode::Batch,
            &["A"][..],
            ApiError::Malformed("truncated".into()),
            (vec![(1, false)], vec![]),
        ),
        // A 429 that did not clear counts as an outage.
        (
            Mode::Batch,
            &["A", "B"][..],
            ApiError::RateLimited { wait_secs: 1.0 },
            (vec![(1, false), (2, false)], vec![]),
        ),
        // A 4xx naming an order: it fails, the others go again (batch)...
        (
            Mode::Batch,
            &["A", "B", "C"][..],
            rejected("order B: no carrier"),
            (vec![(2, true)], vec![vec![1, 3]]),
        ),
        // ...or wait (real time).
        (
            Mode::RealTime,
            &["A", "B", "C"][..],
            rejected("order B: no carrier"),
            (vec![(2, true), (1, false), (3, false)], vec![]),
        ),
        (
            Mode::Batch,
            &["A", "B"][..],
            rejected("orders A and B"),
            (vec![(1, true), (2, true)], vec![]),
        ),
        // A 4xx naming none: one order fails...
        (
            Mode::Batch,
            &["A"][..],
            rejected("invalid"),
            (vec![(1, true)], vec![]),
        ),
        (
            Mode::RealTime,
            &["A"][..],
            rejected("invalid"),
            (vec![(1, true)], vec![]),
        ),
        // ...a larger request is split in halves (batch)...
        (
            Mode::Batch,
            &["A", "B", "C", "D"][..],
            rejected("invalid"),
            (vec![], vec![vec![1, 2], vec![3, 4]]),
        ),
        (
            Mode::Batch,
            &["A", "B", "C"][..],
            rejected("invalid"),
            (vec![], vec![vec![1], vec![2, 3]]),
        ),
        // ...or waits whole (real time: one attempt, no split).
        (
            Mode::RealTime,
            &["A", "B", "C"][..],
            rejected("invalid"),
            (vec![(1, false), (2, false), (3, false)], vec![]),
        ),
    ];
    for (mode, names, err, (changes, again)) in cases {
        let verdict = AT_ONCE.request_failed(mode, orders(names), &err, "msg", NOW);
        let expected: Vec<(i64, Change)> = changes
            .iter()
            .map(|(id, order_failure)| (*id, retry("msg", *order_failure)))
            .collect();
        assert_eq!(verdict.changes, expected, "{mode:?} {names:?} {err:?}");
        let again_ids: Vec<Vec<i64>> = verdict
            .again
            .iter()
            .map(|r| r.iter().map(|o| o.id).collect())
            .collect();
        assert_eq!(again_ids, again, "{mode:?} {names:?} {err:?}");
    }
}

#[test]
fn failed_request_backs_off_from_the_row_attempts() {
    let policy = RetryPolicy {
        base_delay: 60,
        max_failures: 5,
    };
    let tired = vec![Order {
        id: 9,
        attempts: 30,
        name: "Z",
    }];
    let verdict = policy.request_failed(
        Mode::Batch,
        tired,
        &ApiError::Transport("x".into()),
        "m",
        NOW,
    );
    match &verdict.changes[..] {
        [(
            9,
            Change::Retry {
                due_at,
                max_failures: 5,
                order_failure: false,
                ..
            },
        )] => {
            assert!((NOW + 1..=NOW + MAX_RETRY_DELAY_SECS).contains(due_at));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn accepted_answer_to_changes() {
    let answer = Accepted {
        batch_id: "b9".into(),
        ignored: vec![
            json!({"reference": "B", "message": "already shipped"}),
            json!({"reference": "C", "message": ""}),
            json!({"reference": "D"}),
        ],
    };
    let sent = Change::Sent {
        batch_id: "b9".into(),
    };
    let done = |m: &str| Change::Done {
        message: Some(m.into()),
    };
    // (order named, expected change)
    let cases = [
        ("A", sent.clone()),
        ("B", done("<ignored by Shopping Feed: already shipped>")),
        ("C", done("<ignored by Shopping Feed: already performed>")),
        ("D", done("<ignored by Shopping Feed: already performed>")),
        ("E", sent),
    ];
    for (name, expected) in cases {
        let order = Order {
            id: 1,
            attempts: 0,
            name,
        };
        assert_eq!(accepted(&order, &answer, &clean), expected, "order {name}");
    }
    let nothing_ignored = Accepted {
        batch_id: "b1".into(),
        ignored: vec![],
    };
    assert_eq!(
        accepted(&orders(&["A"])[0], &nothing_ignored, &clean),
        Change::Sent {
            batch_id: "b1".into()
        }
    );
}
