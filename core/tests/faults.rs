//! A core-level chaos soak: the engine (claim, prepare, send, check) against
//! the sandbox while every kind of fault is injected at random, with the
//! queue's invariants checked after every step, then a drain.
//!
//! The single rules (one outage, one 429, one rejected order, ...) are tested
//! in `engine.rs`; this file checks that they compose: whatever the mix and
//! order of faults, no update is lost, an outage never fails a row, only the
//! orders the API refuses end `failed`, and an order the API receives twice
//! is always one it recognises as already performed.
//!
//! The seed is printed; `SFSYNC_FAULT_SEED=N cargo test -p
//! shoppingfeed-sync-core --test faults` replays a run.

use serde_json::{json, Map, Value};
use sfsandbox::{Config, Sandbox};
use sfsync_core::api::{ApiConfig, Client};
use sfsync_core::engine::{self, Mode, SaveRequest, Target};
use sfsync_core::model::State;
use sfsync_core::queue::{QueueStore, SqliteStore};
use sfsync_core::{settings, time};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

mod common;
use common::{sandbox_control, shop_settings, CHECK, SHOP, STORE, SYNC, TOKEN};
/// The order states of the four lists, in the order orders are spread over them.
const STATES: [(i64, &str); 4] = [(4, "ship"), (6, "cancel"), (7, "refund"), (5, "deliver")];

struct Soak {
    sb: Sandbox,
    store: SqliteStore,
    client: Client,
    http: reqwest::Client,
    settings: Map<String, Value>,
    rng: fastrand::Rng,
    seed: u64,
    /// Attempts seen per row: they never go down.
    attempts: HashMap<i64, i64>,
    _dir: tempfile::TempDir,
}

fn seed() -> u64 {
    std::env::var("SFSYNC_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..))
}

impl Soak {
    fn new(max_attempts: i64) -> Soak {
        let sb = Sandbox::start_background(Config {
            ticket_delay_ms: 40,
            ..Config::default()
        })
        .expect("sandbox");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("queue.sqlite");
        let store = SqliteStore::open(path.to_str().expect("utf-8 path")).expect("store");
        let client = Client::new(ApiConfig {
            base_url: sb.url(),
            timeout_ms: 300,
        })
        .expect("client");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("reqwest");
        let settings = shop_settings(&[
            (settings::MAX_ORDERS, json!("60")),
            (settings::MAX_ATTEMPTS, json!(max_attempts.to_string())),
        ]);
        let seed = seed();
        eprintln!("faults soak seed: {seed} (SFSYNC_FAULT_SEED={seed} to replay)");
        Soak {
            sb,
            store,
            client,
            http,
            settings,
            rng: fastrand::Rng::with_seed(seed),
            seed,
            attempts: HashMap::new(),
            _dir: dir,
        }
    }

    fn ctl(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        sandbox_control(&self.http, &self.sb.url(), method, path, body)
    }

    fn target(&self) -> Target<'static> {
        Target {
            token: TOKEN,
            store_id: STORE,
            mode: Mode::Batch,
        }
    }

    /// Queues orders `first..=last` (internal id = order id), spread over the four operations.
    fn queue(&self, first: i64, last: i64) {
        for id in first..=last {
            let (state, _) = STATES[(id % 4) as usize];
            engine::save(
                &self.store,
                &self.settings,
                &SaveRequest {
                    id_shop: SHOP,
                    id_order: id,
                    action: SYNC.into(),
                    snapshot: json!({
                        "id_internal_shoppingfeed": id,
                        "id_order_state": state,
                        "carrier": "UPS",
                        "tracking_number": format!("1Z{id}"),
                        "tracking_url": format!("https://t.example/1Z{id}"),
                        "reason": "soak",
                    }),
                    store_id: 0,
                },
                time::now(),
            )
            .expect("save");
        }
    }

    /// 0 to 3 random faults, and sometimes forgotten ticket batches.
    fn inject(&mut self) -> usize {
        let mut faults = Vec::new();
        for _ in 0..self.rng.usize(0..=3) {
            let on = ["order", "ticket", "any"][self.rng.usize(0..3)];
            let count = self.rng.u64(1..=3);
            let fault = match self.rng.u32(0..100) {
                0..=29 => {
                    let status = [500, 502, 503, 504][self.rng.usize(0..4)];
                    json!({"kind": "status", "status": status})
                }
                30..=44 => json!({"kind": "rate_limit", "wait": 0.02}),
                45..=59 => json!({"kind": "drop"}),
                60..=74 => json!({"kind": "malformed"}),
                75..=84 => json!({"kind": "slow", "ms": 30}),
                85..=94 => json!({"kind": "slow", "ms": 500}), // beyond the 300 ms timeout
                _ => json!({"kind": "huge"}),
            };
            let mut fault = fault;
            fault["on"] = json!(on);
            fault["count"] = json!(count);
            faults.push(fault);
        }
        let n = faults.len();
        if n > 0 {
            self.ctl("POST", "faults", Some(json!({ "faults": faults })));
        }
        let forget = self.rng.u32(0..10) == 0;
        self.ctl("POST", "config", Some(json!({ "forget_batches": forget })));
        n
    }

    fn send_chain(&self) -> bool {
        let claim = engine::claim(&self.store, &self.settings, SHOP, SYNC, None, time::now())
            .expect("claim");
        if claim.rows.is_empty() {
            return false;
        }
        let prepared = engine::prepare(
            &self.store,
            &self.settings,
            &claim.rows,
            Some(&claim.token),
            time::now(),
        )
        .expect("prepare");
        engine::send(
            &self.store,
            &self.client,
            &self.settings,
            self.target(),
            &prepared.operations,
            Some(&claim.token),
        )
        .expect("send never fails a run for an outage");
        true
    }

    fn check_chain(&self) -> bool {
        let claim = engine::claim(&self.store, &self.settings, SHOP, CHECK, None, time::now())
            .expect("claim");
        if claim.rows.is_empty() {
            return false;
        }
        engine::check(
            &self.store,
            &self.client,
            &self.settings,
            self.target(),
            &claim.rows,
            Some(&claim.token),
        )
        .expect("check never fails a run for an outage");
        true
    }

    /// Every row: one per order, a known state, failed only if allowed,
    /// attempts never going down, no lease left after a step.
    fn check_invariants(&mut self, n: i64, may_fail: &BTreeSet<i64>) {
        let ids: Vec<i64> = (1..=n * 2).collect();
        let rows = self.store.get(&ids).expect("get");
        let orders: BTreeSet<i64> = rows.iter().map(|r| r.id_order).collect();
        assert_eq!(
            orders.len() as i64,
            n,
            "seed {}: an order lost its row",
            self.seed
        );
        assert_eq!(
            rows.len() as i64,
            n,
            "seed {}: one row per order",
            self.seed
        );
        for r in &rows {
            let allowed = may_fail.contains(&r.id_order);
            if !allowed {
                assert_eq!(
                    r.failures, 0,
                    "seed {}: row {} has an order failure from an outage: {:?}",
                    self.seed, r.id, r.last_error
                );
                assert_ne!(
                    r.state,
                    State::Failed,
                    "seed {}: row {} failed: {:?}",
                    self.seed,
                    r.id,
                    r.last_error
                );
            }
            if r.state == State::Sent {
                assert!(
                    r.batch_id.is_some(),
                    "seed {}: sent row {} without batch id",
                    self.seed,
                    r.id
                );
                assert_eq!(r.action, CHECK);
            }
            if r.state == State::Pending {
                assert_eq!(
                    r.action, SYNC,
                    "seed {}: a pending row is back at its base action",
                    self.seed
                );
            }
            let before = self.attempts.insert(r.id, r.attempts).unwrap_or(0);
            assert!(
                r.attempts >= before,
                "seed {}: attempts went down on row {}",
                self.seed,
                r.id
            );
        }
    }

    /// Runs the chains until nothing is pending or sent.
    fn drain(&mut self, n: i64, may_fail: &BTreeSet<i64>) -> usize {
        self.ctl("DELETE", "faults", None);
        self.ctl("POST", "config", Some(json!({ "forget_batches": false })));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut rounds = 0;
        loop {
            rounds += 1;
            while self.send_chain() {}
            while self.check_chain() {}
            self.check_invariants(n, may_fail);
            let counts = self.store.counts(SHOP).expect("counts");
            if counts[0] + counts[1] == 0 {
                return rounds;
            }
            assert!(
                Instant::now() < deadline,
                "seed {}: the queue did not settle: {counts:?}",
                self.seed
            );
            std::thread::sleep(Duration::from_millis(25)); // tickets still running
        }
    }

    fn stats(&self) -> Value {
        self.ctl("GET", "stats", None)
    }
}

fn soak(orders: i64, rounds: usize, failing: &[(i64, &str)], rejected: &[i64]) {
    let mut s = Soak::new(3);
    // A third of the orders at the start, the rest arriving round after round.
    let initial = orders / 3;
    let per_round = ((orders - initial) as usize).div_ceil(rounds) as i64;
    s.queue(1, initial);
    let mut queued = initial;
    let may_fail: BTreeSet<i64> = failing
        .iter()
        .map(|(id, _)| *id)
        .chain(rejected.iter().copied())
        .collect();
    if !failing.is_empty() || !rejected.is_empty() {
        let fail: Map<String, Value> = failing
            .iter()
            .map(|(id, m)| (id.to_string(), json!(m)))
            .collect();
        let reject: Map<String, Value> = rejected
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), json!([400, 404, 409, 422][i % 4])))
            .collect();
        s.ctl(
            "POST",
            "config",
            Some(json!({"fail_orders": fail, "reject_orders": reject})),
        );
    }
    let t0 = Instant::now();
    let mut injected = 0;
    for _ in 0..rounds {
        let next = (queued + per_round).min(orders);
        s.queue(queued + 1, next);
        queued = next;
        injected += s.inject();
        for _ in 0..3 {
            if !s.send_chain() {
                break;
            }
            s.check_invariants(queued, &may_fail);
        }
        s.check_chain();
        s.check_invariants(queued, &may_fail);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(queued, orders);
    let drain_rounds = s.drain(orders, &may_fail);

    // An order the marketplace refuses ends failed at the limit, or done when
    // the API answered a re-send with "ignored" while its earlier ticket was
    // still running (the earlier ticket's failure is then never read: see
    // docs/RELIABILITY.md, "Known limits"). Counted, never silently.
    let ids: Vec<i64> = (1..=orders).collect();
    let mut masked = Vec::new();
    for r in s.store.get(&ids).expect("get") {
        if may_fail.contains(&r.id_order) {
            let ignored = r
                .last_error
                .as_deref()
                .is_some_and(|m| m.starts_with("ignored by Shopping Feed"));
            if r.state == State::Done && ignored {
                masked.push(r.id_order);
            } else {
                assert_eq!(
                    (r.state, r.failures),
                    (State::Failed, 3),
                    "seed {}: order {} fails alone at the limit: {:?}",
                    s.seed,
                    r.id_order,
                    r.last_error
                );
            }
        }
    }
    let failed = may_fail.len() as i64 - masked.len() as i64;
    let counts = s.store.counts(SHOP).expect("counts");
    assert_eq!(
        counts,
        [0, 0, orders - failed, failed],
        "seed {}: [pending, sent, done, failed]",
        s.seed
    );
    let stats = s.stats();
    let received: u64 = stats["orders_received"]
        .as_object()
        .expect("orders_received")
        .values()
        .map(|v| v.as_u64().unwrap_or(0))
        .sum();
    let ticketed = stats["ticketed"].as_object().expect("ticketed");
    for id in 1..=orders {
        if rejected.contains(&id) {
            continue;
        }
        let op = STATES[(id % 4) as usize].1;
        assert!(
            ticketed.contains_key(&format!("{op}:{id}")),
            "seed {}: order {id} never reached the API",
            s.seed
        );
    }
    let retickets: u64 = ticketed
        .values()
        .map(|v| v.as_u64().unwrap_or(0))
        .sum::<u64>()
        - ticketed.len() as u64;
    let ignored = stats["ignored"].as_u64().unwrap_or(0);
    // Sent again = re-ticketed after a failed ticket (the failing orders), or
    // recognised by the API as already performed (ignored). Never executed twice.
    assert_eq!(received, ticketed.len() as u64 + retickets + ignored);
    assert_eq!(
        stats["duplicates"],
        json!(0),
        "seed {}: an operation executed twice",
        s.seed
    );
    eprintln!(
        "faults soak: seed {} orders {orders} rounds {rounds} faults_injected {} (in {injected} fault entries) lost 0 failed {failed} \
         failures_masked_by_ignored_resend {masked:?} resent_ignored {ignored} retickets_after_failure {retickets} \
         drain_rounds {drain_rounds} in {:.1} s",
        s.seed,
        stats["faults_injected"],
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn random_faults_never_lose_or_fail_a_row() {
    soak(600, 40, &[], &[]);
}

#[test]
fn under_random_faults_only_the_refused_orders_fail() {
    soak(
        300,
        30,
        &[
            (13, "Missing tracking number"),
            (42, "Transition refused"),
            (77, "Unsupported"),
        ],
        &[21, 64, 150],
    );
}

/// A known limit, kept visible: when a re-send is answered "ignored" (already
/// performed) while the earlier ticket of that order is still running, the
/// row is settled done; if that earlier ticket then fails, its failure is
/// never read. Here the earlier batch is unreadable (404) for one check, the
/// row goes back to pending and is sent again (the contract's rules for a 404
/// and for "ignored"). docs/RELIABILITY.md, "Known limits".
#[test]
fn known_limit_an_ignored_resend_settles_a_row_whose_earlier_ticket_then_fails() {
    let s = Soak::new(3);
    s.ctl(
        "POST",
        "config",
        Some(json!({"ticket_delay_ms": 400, "fail_orders": {"2": "Carrier refused"}})),
    );
    s.queue(2, 2);
    assert!(s.send_chain());
    s.ctl("POST", "config", Some(json!({"forget_batches": true})));
    assert!(s.check_chain()); // 404: back to pending
    s.ctl("POST", "config", Some(json!({"forget_batches": false})));
    assert!(s.send_chain()); // "ignored": the earlier ticket is still running
    let row = s.store.find(2).expect("find").pop().expect("row");
    assert_eq!(row.state, State::Done);
    assert_eq!(
        row.last_error.as_deref(),
        Some("ignored by Shopping Feed: Operation already performed")
    );
    std::thread::sleep(Duration::from_millis(500));
    let tickets = s.ctl("GET", "orders/2", None);
    assert_eq!(
        tickets[0]["state"],
        json!("failed"),
        "the earlier ticket failed, unread: {tickets}"
    );
    assert_eq!(s.store.find(2).expect("find")[0].state, State::Done);
}
