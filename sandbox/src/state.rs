//! In-memory state of the sandbox: batches, tickets, faults, log, stats.
//! Everything lives behind one `Mutex` that is never held across an await.

use std::cmp::Reverse;
use std::collections::hash_map::RandomState;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::documents::{DocSwitches, NO_DOCUMENTS_MSG};
use crate::hal::TicketView;
use crate::orders::OrderBook;
use crate::quirks::{Quirks, ShownState, DUP_SHOWN_MSG};
use crate::rate_limit::{Buckets, RateLimit};
use crate::util::{push_json_str, unix_ms};
use crate::Config;

/// Log entries kept.
pub const LOG_CAPACITY: usize = 20_000;
/// Log entries (the most recent ones) that keep their request body.
pub const LOG_BODY_CAPACITY: usize = 2_000;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    Accept,
    Refuse,
    Ship,
    Cancel,
    Refund,
    Acknowledge,
    Unacknowledge,
    Deliver,
    /// Multipart, not JSON (documents.rs); ticketed like the others.
    UploadDocuments,
}

impl Op {
    pub const ALL: [Op; 9] = [
        Op::Accept,
        Op::Refuse,
        Op::Ship,
        Op::Cancel,
        Op::Refund,
        Op::Acknowledge,
        Op::Unacknowledge,
        Op::Deliver,
        Op::UploadDocuments,
    ];

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Accept => "accept",
            Op::Refuse => "refuse",
            Op::Ship => "ship",
            Op::Cancel => "cancel",
            Op::Refund => "refund",
            Op::Acknowledge => "acknowledge",
            Op::Unacknowledge => "unacknowledge",
            Op::Deliver => "deliver",
            Op::UploadDocuments => "upload-documents",
        }
    }

    pub fn ticket_type(self) -> &'static str {
        match self {
            Op::Accept => "order.notify.accept",
            Op::Refuse => "order.notify.refuse",
            Op::Ship => "order.notify.shipment",
            Op::Cancel => "order.notify.cancellation",
            Op::Refund => "order.notify.refund",
            Op::Acknowledge => "order.notify.acknowledge",
            Op::Unacknowledge => "order.notify.unacknowledge",
            Op::Deliver => "order.notify.delivery",
            // inferred: the API doc names no type for document uploads
            Op::UploadDocuments => "order.upload.documents",
        }
    }

    fn idx(self) -> usize {
        self as usize
    }
}

/// Identity of an order inside a store.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum OrderKey {
    Id(i64),
    Ref(Box<str>, Box<str>),
}

#[derive(Clone, Debug)]
pub enum Outcome {
    Succeed,
    Failed(Box<str>),
    Canceled(Box<str>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TState {
    Scheduled,
    Running,
    Succeed,
    Failed,
    Canceled,
}

impl TState {
    pub fn as_str(self) -> &'static str {
        match self {
            TState::Scheduled => "scheduled",
            TState::Running => "running",
            TState::Succeed => "succeed",
            TState::Failed => "failed",
            TState::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<TState> {
        [
            TState::Scheduled,
            TState::Running,
            TState::Succeed,
            TState::Failed,
            TState::Canceled,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        !matches!(self, TState::Scheduled | TState::Running)
    }
}

pub struct Ticket {
    pub batch: u32,
    pub store: i64,
    pub op: Op,
    /// The order element as received (re-serialized JSON).
    pub payload: Box<str>,
    pub created: Instant,
    pub created_ms: u64,
    pub delay_ms: u64,
    pub outcome: Outcome,
}

impl Ticket {
    pub fn state_at(&self, now: Instant) -> TState {
        let el = now.saturating_duration_since(self.created).as_millis() as u64;
        if el >= self.delay_ms {
            match self.outcome {
                Outcome::Succeed => TState::Succeed,
                Outcome::Failed(_) => TState::Failed,
                Outcome::Canceled(_) => TState::Canceled,
            }
        } else if el.saturating_mul(2) < self.delay_ms {
            TState::Scheduled
        } else {
            TState::Running
        }
    }

    /// A re-send of the same operation is ignored while this ticket is
    /// pending or once it succeeded.
    fn blocks_resend(&self, now: Instant) -> bool {
        !matches!(self.state_at(now), TState::Failed | TState::Canceled)
    }
}

pub struct Batch {
    pub store: i64,
    pub start: u32,
    pub len: u32,
}

#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub tokens: Vec<String>,
    pub store_ids: Vec<i64>,
    /// Accounts: a token listed here sees only these stores (several
    /// Shopping Feed stores, each with its own token); a token not listed
    /// sees every store of `store_ids`.
    pub token_stores: HashMap<String, Vec<i64>>,
    pub latency_ms: u64,
    pub ticket_delay_ms: u64,
    pub hang: bool,
    pub fail_orders: HashMap<String, String>,
    pub cancel_orders: HashMap<String, String>,
    pub reject_orders: HashMap<String, u16>,
    pub forget_batches: bool,
    pub unknown_batches: HashSet<String>,
    /// Hostile ticket answers (quirks.rs).
    pub quirks: Quirks,
    /// Rate-limit mode (rate_limit.rs); None = off.
    pub rate_limit: Option<RateLimit>,
    /// Orders and channels that take no documents (documents.rs).
    pub documents: DocSwitches,
}

impl RuntimeConfig {
    pub fn from_config(c: &Config) -> Self {
        RuntimeConfig {
            tokens: c.tokens.clone(),
            store_ids: c.store_ids.clone(),
            token_stores: HashMap::new(),
            latency_ms: c.latency_ms,
            ticket_delay_ms: c.ticket_delay_ms,
            hang: false,
            fail_orders: HashMap::new(),
            cancel_orders: HashMap::new(),
            reject_orders: HashMap::new(),
            forget_batches: false,
            unknown_batches: HashSet::new(),
            quirks: Quirks::default(),
            rate_limit: None,
            documents: DocSwitches::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    Status(u16),
    RateLimit(f64),
    Drop,
    Malformed,
    Huge,
    Slow(u64),
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Status(_) => "status",
            FaultKind::RateLimit(_) => "rate_limit",
            FaultKind::Drop => "drop",
            FaultKind::Malformed => "malformed",
            FaultKind::Huge => "huge",
            FaultKind::Slow(_) => "slow",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReqClass {
    Order,
    Ticket,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOn {
    Order,
    Ticket,
    Any,
}

impl FaultOn {
    fn matches(self, c: ReqClass) -> bool {
        match self {
            FaultOn::Any => true,
            FaultOn::Order => c == ReqClass::Order,
            FaultOn::Ticket => c == ReqClass::Ticket,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            FaultOn::Order => "order",
            FaultOn::Ticket => "ticket",
            FaultOn::Any => "any",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub kind: FaultKind,
    pub remaining: u64,
    pub on: FaultOn,
}

pub struct LogEntry {
    pub seq: u64,
    pub method: Box<str>,
    pub path: Box<str>,
    /// None when the connection was dropped without a response.
    pub status: Option<u16>,
    pub auth_ok: bool,
    pub orders: Option<u32>,
    pub operation: Option<Op>,
    /// Raw JSON body of order POSTs (valid JSON only); for upload-documents
    /// a summary of the multipart body (documents.rs), never the files.
    pub body: Option<Box<str>>,
    pub batch_id: Option<Box<str>>,
    pub fault: Option<&'static str>,
    pub at_ms: u64,
    pub duration_ms: u64,
}

/// What a /v1 request produced, for the log.
#[derive(Default)]
pub struct ReqOutcome {
    pub orders: Option<u32>,
    pub operation: Option<Op>,
    pub body: Option<Box<str>>,
    pub batch_id: Option<Box<str>>,
    pub fault: Option<&'static str>,
}

struct TicketedEntry {
    times: u32,
    last: u32,
    dup: bool,
}

#[derive(Default)]
struct Stats {
    requests: u64,
    order_requests: u64,
    ticket_requests: u64,
    orders_received: [u64; Op::ALL.len()],
    ignored: u64,
    rejected: u64,
    faults_injected: u64,
    settled_succeed: u64,
    settled_failed: u64,
    settled_canceled: u64,
    ticketed: HashMap<Box<str>, TicketedEntry>,
    duplicates: u64,
}

/// One validated order element of an order POST.
pub struct ParsedOrder {
    pub key: OrderKey,
    /// Decimal id, or the reference.
    pub display: Box<str>,
    /// The reference when the element has both an id and a reference.
    pub alt_ref: Option<Box<str>>,
    pub payload: Box<str>,
    /// JSON object with the element's id/reference/channelName keys.
    pub report_keys: String,
    pub empty_tracking: bool,
    /// The element's `channelName`, when it gives one.
    pub channel: Option<Box<str>>,
    /// Documents it names (upload-documents; 0 for other operations).
    pub documents: usize,
    /// Found while reading the request (a document that is no PDF): the
    /// ticket fails with this message.
    pub failure: Option<Box<str>>,
}

pub struct State {
    initial: Config,
    pub cfg: RuntimeConfig,
    seed: u64,
    batches: Vec<Batch>,
    tickets: Vec<Ticket>,
    performed: HashMap<(i64, Op, OrderKey), Vec<u32>>,
    by_key: HashMap<Box<str>, Vec<u32>>,
    pending: BinaryHeap<Reverse<(Instant, u32)>>,
    pub faults: VecDeque<Fault>,
    log: VecDeque<LogEntry>,
    next_seq: u64,
    stats: Stats,
    /// Orders seen through operations (`GET /v1/store/{id}/order`).
    pub orders: OrderBook,
    /// Token buckets of the rate-limit mode.
    pub buckets: Buckets,
    /// Orders whose products tests declared (catalog.rs).
    pub catalog: Catalog,
}

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

const TICKET_MASK: u64 = 0x5a5a_a5a5_0f0f_f0f0;
const SYNTH_MASK: u64 = 0x3c3c_c3c3_6969_9696;

fn parse_id(s: &str, prefix: u64) -> Option<u32> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let hi = u64::from_str_radix(&s[..16], 16).ok()?;
    let lo = u64::from_str_radix(&s[16..], 16).ok()?;
    if hi != prefix {
        return None;
    }
    u32::try_from(lo).ok()
}

pub enum TicketQuery {
    Found(u32),
    NotFound,
}

impl State {
    pub fn new(initial: Config) -> Self {
        State {
            cfg: RuntimeConfig::from_config(&initial),
            initial,
            seed: random_u64(),
            batches: Vec::new(),
            tickets: Vec::new(),
            performed: HashMap::new(),
            by_key: HashMap::new(),
            pending: BinaryHeap::new(),
            faults: VecDeque::new(),
            log: VecDeque::new(),
            next_seq: 1,
            stats: Stats::default(),
            orders: OrderBook::default(),
            buckets: Buckets::default(),
            catalog: Catalog::default(),
        }
    }

    /// Back to the start: no batch, ticket, log entry, fault; start config.
    pub fn reset(&mut self) {
        *self = State::new(self.initial.clone());
    }

    pub fn batch_id(&self, idx: u32) -> String {
        format!("{:016x}{:016x}", self.seed, idx)
    }

    pub fn ticket_id(&self, idx: u32) -> String {
        format!("{:016x}{:016x}", self.seed ^ TICKET_MASK, idx)
    }

    /// An id of the batch/ticket shape that resolves to nothing: the
    /// shadow tickets of quirks.rs (`salt` keeps their kinds apart).
    pub fn synthetic_id(&self, salt: u64, tag: u64) -> String {
        format!("{:016x}{:016x}", self.seed ^ SYNTH_MASK ^ salt, tag)
    }

    pub fn is_token(&self, t: &str) -> bool {
        self.cfg.tokens.iter().any(|x| x == t)
    }

    pub fn has_store(&self, s: i64) -> bool {
        self.cfg.store_ids.contains(&s)
    }

    /// Whether this token's account holds store `s` (see `token_stores`).
    pub fn token_has_store(&self, token: &str, s: i64) -> bool {
        self.cfg
            .token_stores
            .get(token)
            .is_none_or(|stores| stores.contains(&s))
    }

    // ---- request accounting -------------------------------------------

    pub fn count_request(&mut self, class: ReqClass) {
        self.stats.requests += 1;
        match class {
            ReqClass::Order => self.stats.order_requests += 1,
            ReqClass::Ticket => self.stats.ticket_requests += 1,
            ReqClass::Other => {}
        }
    }

    /// Consumes one unit of the first queued fault matching `class`.
    pub fn take_fault(&mut self, class: ReqClass) -> Option<FaultKind> {
        let i = self.faults.iter().position(|f| f.on.matches(class))?;
        let f = &mut self.faults[i];
        let kind = f.kind;
        f.remaining -= 1;
        if f.remaining == 0 {
            self.faults.remove(i);
        }
        self.stats.faults_injected += 1;
        Some(kind)
    }

    pub fn note_rejected(&mut self) {
        self.stats.rejected += 1;
    }

    #[allow(clippy::too_many_arguments)]
    pub fn log_request(
        &mut self,
        method: &str,
        path: &str,
        status: Option<u16>,
        auth_ok: bool,
        out: ReqOutcome,
        at_ms: u64,
        duration: Duration,
    ) {
        let entry = LogEntry {
            seq: self.next_seq,
            method: method.into(),
            path: path.into(),
            status,
            auth_ok,
            orders: out.orders,
            operation: out.operation,
            body: out.body,
            batch_id: out.batch_id,
            fault: out.fault,
            at_ms,
            duration_ms: duration.as_millis() as u64,
        };
        self.next_seq += 1;
        self.log.push_back(entry);
        while self.log.len() > LOG_CAPACITY {
            self.log.pop_front();
        }
        if self.log.len() > LOG_BODY_CAPACITY {
            let i = self.log.len() - LOG_BODY_CAPACITY - 1;
            self.log[i].body = None;
        }
    }

    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    // ---- orders and tickets -------------------------------------------

    fn lookup<'a, V>(
        m: &'a HashMap<String, V>,
        display: &str,
        alt: Option<&str>,
    ) -> Option<(&'a V, String)> {
        if m.is_empty() {
            return None;
        }
        if let Some(v) = m.get(display) {
            return Some((v, display.to_string()));
        }
        let a = alt?;
        m.get(a).map(|v| (v, a.to_string()))
    }

    /// The first order of `orders` that the marketplace rejects: (key, status).
    pub fn rejected(&self, orders: &[ParsedOrder]) -> Option<(String, u16)> {
        orders.iter().find_map(|o| {
            Self::lookup(&self.cfg.reject_orders, &o.display, o.alt_ref.as_deref())
                .map(|(s, k)| (k, *s))
        })
    }

    /// Records a batch; returns its index and the report entries (JSON) of
    /// the ignored orders.
    pub fn create_batch(
        &mut self,
        store: i64,
        op: Op,
        orders: Vec<ParsedOrder>,
    ) -> (u32, Vec<String>) {
        let now = Instant::now();
        let now_ms = unix_ms();
        let delay = self.cfg.ticket_delay_ms;
        let batch_idx = self.batches.len() as u32;
        let start = self.tickets.len() as u32;
        let mut report = Vec::new();
        self.stats.orders_received[op.idx()] += orders.len() as u64;
        for o in orders {
            let pkey = (store, op, o.key.clone());
            // a declared order's refunds are checked against its products,
            // so a second (partial) refund is not a re-send to ignore
            let counted_refund = op == Op::Refund && self.catalog.get(store, &o.key).is_some();
            if let Some(list) = self.performed.get(&pkey).filter(|_| !counted_refund) {
                if list
                    .iter()
                    .any(|&t| self.tickets[t as usize].blocks_resend(now))
                {
                    let mut r = o.report_keys;
                    r.push_str(
                        ",\"state\":\"ignored\",\"message\":\"Operation already performed\"}",
                    );
                    report.push(r);
                    self.stats.ignored += 1;
                    continue;
                }
            }
            let mut outcome = self.decide(store, op, &o);
            if counted_refund && matches!(outcome, Outcome::Succeed) {
                if let Some(Err(m)) = self.catalog.refund(store, &o.key, &o.display, &o.payload) {
                    outcome = Outcome::Failed(m.into());
                }
            }
            let idx = self.tickets.len() as u32;
            // stats: settled at once, or pending until its deadline
            if delay == 0 {
                self.settle_one(&outcome);
            } else {
                self.pending
                    .push(Reverse((now + Duration::from_millis(delay), idx)));
            }
            // stats: how often this (op, order) was ticketed
            let tk: Box<str> = format!("{}:{}", op.as_str(), o.display).into();
            match self.stats.ticketed.get_mut(&tk) {
                Some(e) => {
                    let prev_ok = matches!(self.tickets[e.last as usize].outcome, Outcome::Succeed);
                    e.times += 1;
                    e.last = idx;
                    if prev_ok && !e.dup && !counted_refund {
                        e.dup = true;
                        self.stats.duplicates += 1;
                    }
                }
                None => {
                    self.stats.ticketed.insert(
                        tk,
                        TicketedEntry {
                            times: 1,
                            last: idx,
                            dup: false,
                        },
                    );
                }
            }
            self.orders.note(store, &o.key, idx);
            self.performed.entry(pkey).or_default().push(idx);
            self.by_key.entry(o.display.clone()).or_default().push(idx);
            if let Some(r) = &o.alt_ref {
                if **r != *o.display {
                    self.by_key.entry(r.clone()).or_default().push(idx);
                }
            }
            self.tickets.push(Ticket {
                batch: batch_idx,
                store,
                op,
                payload: o.payload,
                created: now,
                created_ms: now_ms,
                delay_ms: delay,
                outcome,
            });
        }
        let len = self.tickets.len() as u32 - start;
        self.batches.push(Batch { store, start, len });
        (batch_idx, report)
    }

    fn decide(&self, store: i64, op: Op, o: &ParsedOrder) -> Outcome {
        let alt = o.alt_ref.as_deref();
        if let Some((m, _)) = Self::lookup(&self.cfg.cancel_orders, &o.display, alt) {
            return Outcome::Canceled(m.as_str().into());
        }
        if let Some((m, _)) = Self::lookup(&self.cfg.fail_orders, &o.display, alt) {
            return Outcome::Failed(m.as_str().into());
        }
        if op == Op::UploadDocuments {
            let declared = self.catalog.get(store, &o.key);
            let channel = o
                .channel
                .as_deref()
                .or_else(|| declared.and_then(|d| d.channel.as_deref()));
            if self.cfg.documents.refuses(&o.display, alt, channel) {
                return Outcome::Failed(NO_DOCUMENTS_MSG.into());
            }
        }
        if let Some(m) = &o.failure {
            return Outcome::Failed(m.clone());
        }
        if op == Op::Ship && o.empty_tracking {
            return Outcome::Failed("Missing tracking number".into());
        }
        if op == Op::Cancel {
            if let Some(list) = self.performed.get(&(store, Op::Ship, o.key.clone())) {
                if list
                    .iter()
                    .any(|&t| matches!(self.tickets[t as usize].outcome, Outcome::Succeed))
                {
                    return Outcome::Failed("Order already shipped, cannot cancel".into());
                }
            }
        }
        Outcome::Succeed
    }

    fn settle_one(&mut self, o: &Outcome) {
        match o {
            Outcome::Succeed => self.stats.settled_succeed += 1,
            Outcome::Failed(_) => self.stats.settled_failed += 1,
            Outcome::Canceled(_) => self.stats.settled_canceled += 1,
        }
    }

    /// Moves the tickets whose deadline passed into the settled counters.
    fn settle(&mut self, now: Instant) {
        while let Some(Reverse((deadline, idx))) = self.pending.peek().copied() {
            if deadline > now {
                break;
            }
            self.pending.pop();
            let o = self.tickets[idx as usize].outcome.clone();
            self.settle_one(&o);
        }
    }

    /// Index of a batch readable by ticket reads of `store`.
    pub fn find_batch(&self, store: i64, id: &str) -> Option<u32> {
        if self.cfg.forget_batches || self.cfg.unknown_batches.contains(id) {
            return None;
        }
        let idx = parse_id(id, self.seed)?;
        let b = self.batches.get(idx as usize)?;
        (b.store == store).then_some(idx)
    }

    pub fn find_ticket(&self, store: i64, id: &str) -> TicketQuery {
        let Some(idx) = parse_id(id, self.seed ^ TICKET_MASK) else {
            return TicketQuery::NotFound;
        };
        let Some(t) = self.tickets.get(idx as usize) else {
            return TicketQuery::NotFound;
        };
        if t.store != store || self.cfg.forget_batches {
            return TicketQuery::NotFound;
        }
        if self.cfg.unknown_batches.contains(&self.batch_id(t.batch)) {
            return TicketQuery::NotFound;
        }
        TicketQuery::Found(idx)
    }

    /// Ticket indices of a batch, or of every batch of the store.
    pub fn ticket_range(&self, store: i64, batch: Option<u32>) -> Vec<u32> {
        match batch {
            Some(b) => {
                let b = &self.batches[b as usize];
                (b.start..b.start + b.len).collect()
            }
            None => (0..self.tickets.len() as u32)
                .filter(|&i| self.tickets[i as usize].store == store)
                .collect(),
        }
    }

    pub fn ticket(&self, idx: u32) -> &Ticket {
        &self.tickets[idx as usize]
    }

    pub fn write_ticket(&self, out: &mut String, idx: u32, now: Instant) {
        let t = &self.tickets[idx as usize];
        let real = t.state_at(now);
        // the state shown may differ from the real one (quirks.rs); dates
        // and result follow what is shown so the ticket stays coherent
        let (state, shown) = match self.shown_state_of(&t.payload) {
            None => (real.as_str(), real),
            Some(ShownState::Raw(s)) => (s, real),
            Some(ShownState::Known(s)) => (s.as_str(), s),
        };
        let message = match (&t.outcome, shown) {
            (Outcome::Failed(m) | Outcome::Canceled(m), TState::Failed | TState::Canceled) => {
                Some(&**m)
            }
            (Outcome::Succeed, TState::Failed | TState::Canceled) => Some(DUP_SHOWN_MSG),
            _ => None,
        };
        let id = self.ticket_id(idx);
        let batch_id = self.batch_id(t.batch);
        TicketView {
            store: t.store,
            id: &id,
            batch_id: &batch_id,
            ticket_type: t.op.ticket_type(),
            state,
            payload: &t.payload,
            message,
            scheduled_ms: t.created_ms,
            started_ms: (shown != TState::Scheduled).then_some(t.created_ms + t.delay_ms / 2),
            finished_ms: shown.is_final().then_some(t.created_ms + t.delay_ms),
        }
        .write(out);
    }

    /// `[{"operation","state","ticket_id","batch_id","message"}]` for an order key.
    pub fn order_history(&self, key: &str) -> String {
        let now = Instant::now();
        let mut out = String::from("[");
        if let Some(list) = self.by_key.get(key) {
            for (n, &i) in list.iter().enumerate() {
                let t = &self.tickets[i as usize];
                let st = t.state_at(now);
                if n > 0 {
                    out.push(',');
                }
                out.push_str("{\"operation\":\"");
                out.push_str(t.op.as_str());
                out.push_str("\",\"state\":\"");
                out.push_str(st.as_str());
                out.push_str("\",\"store\":");
                out.push_str(&t.store.to_string());
                out.push_str(",\"ticket_id\":\"");
                out.push_str(&self.ticket_id(i));
                out.push_str("\",\"batch_id\":\"");
                out.push_str(&self.batch_id(t.batch));
                out.push_str("\",\"message\":");
                match (&t.outcome, st.is_final()) {
                    (Outcome::Failed(m) | Outcome::Canceled(m), true) => push_json_str(&mut out, m),
                    _ => out.push_str("null"),
                }
                out.push('}');
            }
        }
        out.push(']');
        out
    }

    pub fn log_json(&self, since: u64, limit: usize) -> String {
        let mut out = String::from("{\"requests\":[");
        let start = self.log.partition_point(|e| e.seq <= since);
        let mut first = true;
        for e in self.log.iter().skip(start).take(limit) {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str("{\"seq\":");
            out.push_str(&e.seq.to_string());
            out.push_str(",\"method\":");
            push_json_str(&mut out, &e.method);
            out.push_str(",\"path\":");
            push_json_str(&mut out, &e.path);
            out.push_str(",\"status\":");
            match e.status {
                Some(s) => out.push_str(&s.to_string()),
                None => out.push_str("null"),
            }
            out.push_str(",\"auth_ok\":");
            out.push_str(if e.auth_ok { "true" } else { "false" });
            out.push_str(",\"orders\":");
            match e.orders {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str("null"),
            }
            out.push_str(",\"operation\":");
            match e.operation {
                Some(op) => push_json_str(&mut out, op.as_str()),
                None => out.push_str("null"),
            }
            out.push_str(",\"body\":");
            out.push_str(e.body.as_deref().unwrap_or("null"));
            out.push_str(",\"batch_id\":");
            match &e.batch_id {
                Some(b) => push_json_str(&mut out, b),
                None => out.push_str("null"),
            }
            out.push_str(",\"fault\":");
            match e.fault {
                Some(f) => push_json_str(&mut out, f),
                None => out.push_str("null"),
            }
            out.push_str(",\"at_ms\":");
            out.push_str(&e.at_ms.to_string());
            out.push_str(",\"duration_ms\":");
            out.push_str(&e.duration_ms.to_string());
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    pub fn stats_json(
        &mut self,
        max_in_flight: usize,
        in_flight: usize,
        with_ticketed: bool,
    ) -> String {
        let now = Instant::now();
        self.settle(now);
        let (mut scheduled, mut running) = (0u64, 0u64);
        for Reverse((_, idx)) in self.pending.iter() {
            match self.tickets[*idx as usize].state_at(now) {
                TState::Scheduled => scheduled += 1,
                _ => running += 1,
            }
        }
        let s = &self.stats;
        let mut out = String::with_capacity(512);
        out.push_str(&format!(
            "{{\"requests\":{},\"order_requests\":{},\"ticket_requests\":{},\"orders_received\":{{",
            s.requests, s.order_requests, s.ticket_requests
        ));
        for (i, op) in Op::ALL.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "\"{}\":{}",
                op.as_str(),
                s.orders_received[op.idx()]
            ));
        }
        out.push_str(&format!(
            "}},\"tickets\":{{\"scheduled\":{},\"running\":{},\"succeed\":{},\"failed\":{},\"canceled\":{}}},\"ticketed\":{{",
            scheduled, running, s.settled_succeed, s.settled_failed, s.settled_canceled
        ));
        if with_ticketed {
            let mut first = true;
            for (k, e) in &s.ticketed {
                if !first {
                    out.push(',');
                }
                first = false;
                push_json_str(&mut out, k);
                out.push(':');
                out.push_str(&e.times.to_string());
            }
        }
        out.push_str(&format!(
            "}},\"duplicates\":{},\"max_in_flight\":{},\"in_flight\":{},\"ignored\":{},\"rejected\":{},\"faults_injected\":{},\"rate_limited\":{},\"batches\":{},\"tickets_total\":{}}}",
            s.duplicates,
            max_in_flight,
            in_flight,
            s.ignored,
            s.rejected,
            s.faults_injected,
            self.buckets.limited,
            self.batches.len(),
            self.tickets.len()
        ));
        out
    }

    pub fn faults_json(&self) -> String {
        let mut out = String::from("{\"faults\":[");
        for (i, f) in self.faults.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "{{\"kind\":\"{}\",\"count\":{},\"on\":\"{}\"",
                f.kind.name(),
                f.remaining,
                f.on.as_str()
            ));
            match f.kind {
                FaultKind::Status(s) => out.push_str(&format!(",\"status\":{s}")),
                FaultKind::RateLimit(w) => out.push_str(&format!(",\"wait\":{w}")),
                FaultKind::Slow(ms) => out.push_str(&format!(",\"ms\":{ms}")),
                _ => {}
            }
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_one(st: &mut State, n: usize) {
        for _ in 0..n {
            let out = ReqOutcome {
                body: Some("{\"order\":[]}".into()),
                ..ReqOutcome::default()
            };
            st.log_request("POST", "/v1/x", Some(202), true, out, 0, Duration::ZERO);
        }
    }

    #[test]
    fn log_is_bounded_and_keeps_recent_bodies() {
        let mut st = State::new(Config::default());
        log_one(&mut st, LOG_CAPACITY + 5);
        assert_eq!(st.log.len(), LOG_CAPACITY);
        assert_eq!(st.log.front().unwrap().seq, 6);
        let with_body = st.log.iter().filter(|e| e.body.is_some()).count();
        assert_eq!(with_body, LOG_BODY_CAPACITY);
        assert!(st.log.back().unwrap().body.is_some());
        let v: serde_json::Value = serde_json::from_str(&st.log_json(0, usize::MAX)).unwrap();
        assert_eq!(v["requests"].as_array().unwrap().len(), LOG_CAPACITY);
        st.clear_log();
        assert!(st.log.is_empty());
    }

    #[test]
    fn ids_round_trip_and_die_on_reset() {
        let mut st = State::new(Config::default());
        let id = st.batch_id(7);
        assert_eq!(id.len(), 32);
        assert_eq!(parse_id(&id, st.seed), Some(7));
        assert_eq!(parse_id(&st.ticket_id(7), st.seed), None);
        assert_eq!(parse_id("zz", st.seed), None);
        st.reset();
        assert_eq!(parse_id(&id, st.seed), None);
    }

    #[test]
    fn ticket_states_follow_the_delay() {
        let now = Instant::now();
        let t = Ticket {
            batch: 0,
            store: 42,
            op: Op::Ship,
            payload: "{}".into(),
            created: now,
            created_ms: 0,
            delay_ms: 100,
            outcome: Outcome::Failed("x".into()),
        };
        assert_eq!(t.state_at(now), TState::Scheduled);
        assert_eq!(
            t.state_at(now + Duration::from_millis(49)),
            TState::Scheduled
        );
        assert_eq!(t.state_at(now + Duration::from_millis(50)), TState::Running);
        assert_eq!(t.state_at(now + Duration::from_millis(100)), TState::Failed);
        assert!(t.blocks_resend(now));
        assert!(!t.blocks_resend(now + Duration::from_millis(100)));
    }
}
