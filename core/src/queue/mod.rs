//! The queue of order updates (`shoppingfeed_order`), behind [`QueueStore`]
//! so that a MySQL/MariaDB store can join the SQLite one.
//!
//! A row's life: `pending` (due at `update_at`) -> claimed (a lease:
//! `locked_by`, `locked_until`) -> `sent` with a `batch_id` (action moved to
//! its `CHECK_TICKET_` stage) -> `done` | back to `pending` (action moved back,
//! `attempts + 1`, later `update_at`) | `failed`. A claim is exclusive until
//! it is settled or its lease ends.

pub mod bounds;
pub mod mysql;
pub mod open;
pub mod sqlite;
pub mod transfer;

use crate::error::Result;
use crate::model::{Operation, Row, State};
use serde_json::Value;

pub use mysql::MysqlStore;
pub use open::{open, OpenOptions, StoreKind, DATABASE_SETTING};
pub use sqlite::SqliteStore;

/// When a caller gives the store a moment for its own upkeep (SQLite: WAL
/// checkpoints; a server database: nothing). Upkeep never loses a row: a
/// failed one is tried again at the next moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    /// Right after a write inside the merchant's request (`saveOrder`): only
    /// what keeps the store bounded, as cheap as possible.
    AfterRequest,
    /// After a cron step, where nobody waits for it.
    AfterBackground,
}

/// One state change of a claimed row, applied by [`QueueStore::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Records the operation chosen by `prepareBatch`; the claim is kept.
    SetOperation(Option<Operation>),
    /// `done`, claim released (`message` goes to `last_error`, e.g. "ignored:
    /// already performed", or None to clear it).
    Done { message: Option<String> },
    /// Accepted by the API: action -> its `CHECK_TICKET_` stage, state `sent`,
    /// `batch_id` set, due at once, claim released.
    Sent { batch_id: String },
    /// Records the ticket id of a sent row; the claim is kept.
    SetTicket(String),
    /// Back to `pending` (action back to its base), `attempts + 1`, due at
    /// `due_at`, `last_error = message`; with `order_failure` also
    /// `failures + 1`, and `failed` once failures reach `max_failures`.
    /// Claim released.
    Retry {
        due_at: i64,
        message: String,
        order_failure: bool,
        max_failures: i64,
    },
    /// State and action unchanged, `attempts + 1`, due at `due_at`,
    /// `last_error = message`, claim released (a sent row whose ticket could
    /// not be read because of an outage).
    Defer { due_at: i64, message: String },
    /// `failed` at once, claim released.
    Failed { message: String },
    /// Claim released, nothing else changes (a ticket still running, a run
    /// stopped by a refused token: no attempt is lost).
    Release,
    /// Not sent yet, and no attempt counted: state and action unchanged,
    /// due at `due_at`, `last_error = message`, claim released (a `ship`
    /// waiting for its tracking number). Superseded like a retry. Unlike
    /// the other changes' times, `due_at` is on the store's clock: it is
    /// computed from the row's own `date_add`.
    Wait { due_at: i64, message: String },
}

/// What [`QueueStore::overview`] read: the queue per shop, action and
/// state, and the time it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// The store's "now" for this read, on the store's own clock (the
    /// caller's `now` for SQLite; the database server's for MySQL): what
    /// `due` and `claimed` were decided with, and what ages are counted
    /// from (the rows' times are on that clock too).
    pub now: i64,
    /// One line per (shop, action, state) that has rows.
    pub lines: Vec<OverviewLine>,
}

/// One line of an [`Overview`]: the rows of one shop, action and state, as
/// an operator reads them (`sync-orders.php status`).
///
/// "Due" and "claimed" follow the claims' own rules (see
/// [`QueueStore::claim`]), at [`Overview::now`]: a pending or sent row is
/// due when `update_at <= now`, or when its due time lies further ahead
/// than any setting allows (written while the clock ran ahead: a claim
/// takes it); a row is claimed while a lease is live (`now <=
/// locked_until`, and no further ahead than a lease can reach). Done and
/// failed rows are never due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverviewLine {
    pub id_shop: i64,
    /// The row's action as stored: a base action (`SYNC_STATUS`) or its
    /// ticket stage (`CHECK_TICKET_SYNC_STATUS`).
    pub action: String,
    pub state: State,
    /// Rows of this shop, action and state.
    pub count: i64,
    /// Of them, rows a claim would take now, were they not leased.
    pub due: i64,
    /// Of them, rows leased to a run right now.
    pub claimed: i64,
    /// The earliest `update_at` of the due rows: how long the oldest due
    /// row has waited (for sent rows: since it was sent or last read).
    /// `None` when no row is due.
    pub oldest_due_at: Option<i64>,
    /// The earliest `update_at` of the rows not due yet (a shipped update
    /// waiting for its time shift, a retry waiting for its delay). `None`
    /// when every row is due, or for done and failed rows.
    pub next_due_at: Option<i64>,
    /// The latest `date_upd` of these rows: when one last changed.
    pub last_change_at: i64,
}

/// What names one update in the queue: (shop, order, action, subject),
/// and the Shopping Feed store it is tagged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowKey<'a> {
    /// The Shopping Feed store (0: untagged; a save with 0 keeps the tag of
    /// the row it replaces).
    pub store_id: i64,
    pub id_shop: i64,
    pub id_order: i64,
    /// A base action (never a `CHECK_TICKET_` stage).
    pub action: &'a str,
    /// What the update is about within its order and action: the credit
    /// slip's id for `SYNC_REFUND` (two slips of one order are two rows,
    /// each sent once), 0 for every other action (one row per order and
    /// action, the latest snapshot wins). See [`crate::model::subject_of`].
    pub subject: i64,
}

/// The result of one change: the row's state after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Applied {
    pub id: i64,
    pub state: State,
}

pub trait QueueStore {
    /// Queues an update: replaces the snapshot of the (shop, order, action)
    /// row that is pending and not claimed (keeping its id and `date_add`,
    /// `update_at = due_at`), else inserts a new pending row. Durable when it
    /// returns. Returns the row id.
    ///
    /// Untagged (`store_id` 0): see [`upsert_pending_in`](Self::upsert_pending_in).
    fn upsert_pending(
        &self,
        id_shop: i64,
        id_order: i64,
        action: &str,
        payload: &Value,
        due_at: i64,
        now: i64,
    ) -> Result<i64> {
        self.upsert_pending_in(0, id_shop, id_order, action, payload, due_at, now)
    }

    /// [`upsert_pending`](Self::upsert_pending) for the rows of one Shopping
    /// Feed store: `store_id` tags the row (0: untagged). A save with 0
    /// keeps the tag of the row it replaces: a caller that does not know
    /// the store never takes a row away from its store.
    #[allow(clippy::too_many_arguments)]
    fn upsert_pending_in(
        &self,
        store_id: i64,
        id_shop: i64,
        id_order: i64,
        action: &str,
        payload: &Value,
        due_at: i64,
        now: i64,
    ) -> Result<i64> {
        let key = RowKey {
            store_id,
            id_shop,
            id_order,
            action,
            subject: 0,
        };
        self.upsert_pending_keyed(&key, payload, due_at, now)
    }

    /// [`upsert_pending_in`](Self::upsert_pending_in) for one subject of an
    /// order and action (see [`RowKey::subject`]). With subject 0 it is
    /// that method. With a subject, the update is sent once: when a row of
    /// the same key exists that is not an unclaimed pending row (being
    /// sent, sent, done or failed, in the base action or its ticket stage),
    /// nothing is written and that row's id is returned; an unclaimed
    /// pending row gets the new snapshot, as for subject 0.
    fn upsert_pending_keyed(
        &self,
        key: &RowKey<'_>,
        payload: &Value,
        due_at: i64,
        now: i64,
    ) -> Result<i64>;

    /// Claims up to `limit` due rows (`update_at <= now`, state pending or
    /// sent, no live lease) of a shop and action, oldest first (`update_at`,
    /// then id), leasing them to `claim` until `lease_until`. With `only`,
    /// claims at most that row (real-time mode). Atomic: two callers never
    /// get the same row.
    ///
    /// Clock steps: a lease ending, or a due time, further ahead of `now`
    /// than any setting allows (it was written while the clock ran ahead) is
    /// not believed: the lease is over, the row is due (after the rows
    /// really due). The bounds: [`bounds::MAX_LEASE_AHEAD_SECS`],
    /// [`bounds::MAX_DUE_AHEAD_SECS`]; a store must use bounds at least as
    /// large as the settings' maxima.
    #[allow(clippy::too_many_arguments)]
    fn claim(
        &self,
        id_shop: i64,
        action: &str,
        limit: i64,
        now: i64,
        lease_until: i64,
        claim: &str,
        only: Option<i64>,
    ) -> Result<Vec<Row>> {
        self.claim_in(None, id_shop, action, limit, now, lease_until, claim, only)
    }

    /// [`claim`](Self::claim) for one Shopping Feed store: with
    /// `Some(store)`, only rows tagged with that store or untagged (0) are
    /// claimed, so a run with one store's token never sends another
    /// store's updates; `None` claims every row.
    #[allow(clippy::too_many_arguments)]
    fn claim_in(
        &self,
        store: Option<i64>,
        id_shop: i64,
        action: &str,
        limit: i64,
        now: i64,
        lease_until: i64,
        claim: &str,
        only: Option<i64>,
    ) -> Result<Vec<Row>>;

    /// The rows with these ids (any order, missing ids skipped).
    fn get(&self, ids: &[i64]) -> Result<Vec<Row>>;

    /// Applies changes in one transaction, in the given order (several
    /// changes may name the same row, e.g. `SetTicket` then `Done`). With `claim`, a change applies
    /// only to a row still leased to that claim (a row whose lease ended and
    /// was taken by another run is left alone). A row going back to pending
    /// while a newer unclaimed pending row of the same (shop, order, action)
    /// exists is settled `done` as superseded instead (the newer snapshot
    /// wins). Returns the rows that changed, with their new state.
    ///
    /// With `claim`, a row the list lacks was not leased to the claim any
    /// more: its lease ended (e.g. a forward clock step longer than the
    /// lease while the run waited on the API) and another run took it, or
    /// already settled it. Nothing of this run was recorded for it; the
    /// other run's changes stand. The caller must not report such a row as
    /// settled: it can say "N rows were taken over by another run (lease
    /// ended): their answers were not recorded".
    fn apply(
        &self,
        changes: &[(i64, Change)],
        claim: Option<&str>,
        now: i64,
    ) -> Result<Vec<Applied>>;

    /// Every row of one PrestaShop order (all shops), oldest first.
    fn find(&self, id_order: i64) -> Result<Vec<Row>>;

    /// Row counts of one shop, indexed like [`State::ALL`].
    fn counts(&self, id_shop: i64) -> Result<[i64; 4]>;

    /// Failed rows of a shop (all, or those of the given orders) back to
    /// pending, due now, `attempts = failures = 0`, action back to its base.
    fn retry_failed(&self, id_shop: i64, orders: Option<&[i64]>, now: i64) -> Result<u64>;

    /// Deletes `done` rows last changed before `before`. Returns how many.
    fn purge_done(&self, before: i64) -> Result<u64>;

    /// Rows with an id above `after_id`, by id, at most `limit`, in every
    /// state: for reading a whole queue page by page (moving it).
    fn page(&self, after_id: i64, limit: i64) -> Result<Vec<Row>>;

    /// Adds rows copied from another queue as they are (state, action,
    /// operation, counters, batch and ticket, message, times; no lease), in
    /// one transaction, except those this queue holds already (same shop,
    /// order, action, `date_add` and snapshot): returns how many were
    /// added. A pending row whose order has an unclaimed pending row of the
    /// same action here is added as `done`, superseded: the row already
    /// here was saved later. See [`transfer`].
    fn import(&self, rows: &[Row]) -> Result<u64>;

    /// What the queue holds, for an operator: one line per (shop, action,
    /// state) that has rows (no line for an empty combination), ordered by
    /// shop, then action (byte order), then state in [`State::ALL`] order,
    /// read in one consistent snapshot. Rows of an unknown state are left
    /// out, as in [`counts`](Self::counts). `now` is the caller's time; a
    /// store on another clock uses its own and says which in
    /// [`Overview::now`] (see [`OverviewLine`] for what it decides). Reads
    /// only: never waits for a writer, never holds one up for long.
    fn overview(&self, now: i64) -> Result<Overview>;

    /// Rows of one state, of one shop or of every shop, the most recently
    /// changed first (`date_upd` descending, then id descending), at most
    /// `limit` (none when `limit <= 0`). For operators: the failed rows
    /// with their last error, the rows still waiting. Reads only.
    fn list(&self, state: State, id_shop: Option<i64>, limit: i64) -> Result<Vec<Row>>;

    /// The store's own upkeep at this moment (see [`Upkeep`]); errors are
    /// swallowed by design (nothing depends on it having run).
    fn upkeep(&self, _moment: Upkeep) {}

    /// What kind of store this is and where it lives, for `phpinfo()` and
    /// messages: never a password.
    fn describe(&self) -> String;
}
