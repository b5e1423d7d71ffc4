//! `QueueStore::overview` and `QueueStore::list`: what an operator's
//! `status` and `failed` commands read (counts per shop, action and state;
//! what is due, since when, what is leased; the rows of one state, newest
//! change first). Each test runs on every store (`sqlite::` and `mysql::`,
//! see queue_support), but the SQLite reader beside a writer.

#[macro_use]
mod queue_support;

use queue_support::*;
use sfsync_core::model::State;
use sfsync_core::queue::sqlite::{MAX_DUE_AHEAD_SECS, MAX_LEASE_AHEAD_SECS};
use sfsync_core::queue::{Change, OverviewLine, QueueStore};

const INVOICE: &str = "SYNC_INVOICE";

fn line<'a>(lines: &'a [OverviewLine], shop: i64, action: &str, state: State) -> &'a OverviewLine {
    lines
        .iter()
        .find(|l| l.id_shop == shop && l.action == action && l.state == state)
        .unwrap_or_else(|| {
            panic!("no overview line for shop {shop}, {action}, {state:?}: {lines:#?}")
        })
}

fn save_in(
    store: &dyn QueueStore,
    shop: i64,
    action: &str,
    id_order: i64,
    due_at: i64,
    now: i64,
) -> i64 {
    store
        .upsert_pending(shop, id_order, action, &snap(4), due_at, now)
        .expect("upsert")
}

fn sent(store: &dyn QueueStore, id: i64, now: i64) {
    let applied = apply1(
        store,
        id,
        Change::Sent {
            batch_id: format!("batch-{id}"),
        },
        None,
        now,
    );
    assert_eq!(applied.len(), 1);
}

fn failed(store: &dyn QueueStore, id: i64, message: &str, now: i64) {
    let applied = apply1(
        store,
        id,
        Change::Failed {
            message: message.into(),
        },
        None,
        now,
    );
    assert_eq!(applied[0].state, State::Failed);
}

fn an_empty_queue_has_no_line_and_no_row(kind: Kind) {
    let store = fresh(kind);
    let overview = store.overview(T0).unwrap();
    assert_eq!(overview.lines, Vec::<OverviewLine>::new());
    assert_eq!(
        overview.now, T0,
        "the caller's clock (the tests' MySQL store runs on it too)"
    );
    for state in State::ALL {
        assert!(store.list(state, None, 100).unwrap().is_empty());
        assert!(store.list(state, Some(SHOP), 100).unwrap().is_empty());
    }
}

/// Two shops, two actions, every state: each line's numbers, and the order.
fn lines_per_shop_action_and_state(kind: Kind) {
    let store = fresh(kind);
    let store: &dyn QueueStore = &*store;
    let now = T0 + 1000;

    // Shop 1, SYNC_STATUS: three pending (two due, one waiting for its time
    // shift), one leased, one sent, one done, two failed.
    save_in(store, 1, SYNC, 1, T0 + 100, T0);
    save_in(store, 1, SYNC, 2, T0 + 400, T0);
    save_in(store, 1, SYNC, 3, now + 300, T0);
    let leased = save_in(store, 1, SYNC, 4, T0 + 50, T0);
    let claimed = store
        .claim(1, SYNC, 10, now, now + 300, "run-a", Some(leased))
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let to_send = save_in(store, 1, SYNC, 5, T0, T0);
    sent(store, to_send, T0 + 600);
    let to_finish = save_in(store, 1, SYNC, 6, T0, T0);
    apply1(
        store,
        to_finish,
        Change::Done { message: None },
        None,
        T0 + 700,
    );
    let f1 = save_in(store, 1, SYNC, 7, T0, T0);
    failed(store, f1, "tracking number missing", T0 + 800);
    let f2 = save_in(store, 1, SYNC, 8, T0, T0);
    failed(store, f2, "order unknown", T0 + 900);

    // Shop 2: an invoice pending and due, a status failed.
    save_in(store, 2, INVOICE, 21, T0 + 10, T0);
    let f3 = save_in(store, 2, SYNC, 22, T0, T0);
    failed(store, f3, "refused", T0 + 950);

    let overview = store.overview(now).unwrap();
    assert_eq!(overview.now, now);
    let lines = overview.lines;
    let keys: Vec<(i64, &str, State)> = lines
        .iter()
        .map(|l| (l.id_shop, l.action.as_str(), l.state))
        .collect();
    assert_eq!(
        keys,
        vec![
            (1, CHECK, State::Sent),
            (1, SYNC, State::Pending),
            (1, SYNC, State::Done),
            (1, SYNC, State::Failed),
            (2, INVOICE, State::Pending),
            (2, SYNC, State::Failed),
        ],
        "shop, then action (by name), then the states in State::ALL order; no empty line"
    );

    let pending = line(&lines, 1, SYNC, State::Pending);
    assert_eq!(pending.count, 4, "two due, one waiting, one leased");
    assert_eq!(
        pending.due, 3,
        "the leased row is due too: only its lease keeps it"
    );
    assert_eq!(pending.claimed, 1);
    assert_eq!(pending.oldest_due_at, Some(T0 + 50));
    assert_eq!(pending.next_due_at, Some(now + 300));
    assert_eq!(pending.last_change_at, T0);

    let sent_line = line(&lines, 1, CHECK, State::Sent);
    assert_eq!(
        (sent_line.count, sent_line.due, sent_line.claimed),
        (1, 1, 0)
    );
    assert_eq!(
        sent_line.oldest_due_at,
        Some(T0 + 600),
        "due since it was sent"
    );
    assert_eq!(sent_line.next_due_at, None);
    assert_eq!(sent_line.last_change_at, T0 + 600);

    let done = line(&lines, 1, SYNC, State::Done);
    assert_eq!((done.count, done.due, done.claimed), (1, 0, 0));
    assert_eq!((done.oldest_due_at, done.next_due_at), (None, None));
    assert_eq!(done.last_change_at, T0 + 700);

    let failed_line = line(&lines, 1, SYNC, State::Failed);
    assert_eq!(
        (failed_line.count, failed_line.due),
        (2, 0),
        "failed rows are never due"
    );
    assert_eq!(failed_line.last_change_at, T0 + 900);

    let invoice = line(&lines, 2, INVOICE, State::Pending);
    assert_eq!((invoice.count, invoice.due, invoice.claimed), (1, 1, 0));
    assert_eq!(invoice.oldest_due_at, Some(T0 + 10));

    // The lines add up to counts() of each shop.
    for shop in [1, 2] {
        let counts = store.counts(shop).unwrap();
        for (i, state) in State::ALL.iter().enumerate() {
            let sum: i64 = lines
                .iter()
                .filter(|l| l.id_shop == shop && l.state == *state)
                .map(|l| l.count)
                .sum();
            assert_eq!(sum, counts[i], "shop {shop}, {state:?}");
        }
    }
}

/// "Due" and "claimed" are the claims' own rules, clock steps included.
fn due_and_claimed_follow_the_claims_rules(kind: Kind) {
    let fixture = fresh(kind);
    let store: &dyn QueueStore = &*fixture;
    let now = T0;
    // Due exactly now; due one second later; due beyond any setting (saved
    // while the clock ran ahead: a claim takes it now).
    save_in(store, SHOP, SYNC, 1, now, now);
    save_in(store, SHOP, SYNC, 2, now + 1, now);
    save_in(store, SHOP, SYNC, 3, now + MAX_DUE_AHEAD_SECS + 10, now);
    // Three leases: live until now, ended a second ago, and one ending
    // beyond any lease (not believed: a claim would take the row).
    let live = save_in(store, SHOP, SYNC, 4, now - 5, now - 10);
    let ended = save_in(store, SHOP, SYNC, 5, now - 5, now - 10);
    let far = save_in(store, SHOP, SYNC, 6, now - 5, now - 10);
    for (id, until) in [
        (live, now),
        (ended, now - 1),
        (far, now + MAX_LEASE_AHEAD_SECS + 1),
    ] {
        let changed = fixture.raw_exec(&format!(
            "UPDATE {{table}} SET locked_by = 'other-run', locked_until = {until} WHERE {{id}} = {id}"
        ));
        assert_eq!(changed, 1);
    }

    let lines = store.overview(now).unwrap().lines;
    let pending = line(&lines, SHOP, SYNC, State::Pending);
    assert_eq!(pending.count, 6);
    assert_eq!(pending.due, 5, "all but the row due in a second");
    assert_eq!(pending.claimed, 1, "only the lease a claim would respect");
    assert_eq!(pending.oldest_due_at, Some(now - 5));
    assert_eq!(pending.next_due_at, Some(now + 1));

    // What a claim takes now agrees: every due row but the live lease.
    let taken = store
        .claim(SHOP, SYNC, 100, now, now + 300, "mine", None)
        .unwrap();
    assert_eq!(taken.len() as i64, pending.due - pending.claimed);
}

fn rows_of_unknown_states_are_left_out_like_counts(kind: Kind) {
    let fixture = fresh(kind);
    let store: &dyn QueueStore = &*fixture;
    save_in(store, SHOP, SYNC, 1, T0, T0);
    let odd = save_in(store, SHOP, SYNC, 2, T0, T0);
    assert_eq!(
        fixture.raw_exec(&format!(
            "UPDATE {{table}} SET state = 'archived' WHERE {{id}} = {odd}"
        )),
        1
    );
    let lines = store.overview(T0).unwrap().lines;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].count, 1);
    assert_eq!(store.counts(SHOP).unwrap()[0], 1);
}

fn list_gives_one_state_newest_change_first_within_the_limit(kind: Kind) {
    let store = fresh(kind);
    let store: &dyn QueueStore = &*store;
    let mut failed_ids = Vec::new();
    for (i, shop) in [(1, 1), (2, 2), (3, 1), (4, 2), (5, 1)] {
        let id = save_in(store, shop, SYNC, 100 + i, T0, T0);
        failed(store, id, &format!("error {i}"), T0 + i * 10);
        failed_ids.push((id, shop));
    }
    // Two rows that fail in the same second: the higher id first.
    let same_a = save_in(store, 1, INVOICE, 200, T0, T0);
    let same_b = save_in(store, 1, INVOICE, 201, T0, T0);
    failed(store, same_a, "same second", T0 + 100);
    failed(store, same_b, "same second", T0 + 100);
    let pending = save_in(store, 1, SYNC, 300, T0, T0);

    let all = store.list(State::Failed, None, 100).unwrap();
    let ids: Vec<i64> = all.iter().map(|r| r.id).collect();
    let mut expected = vec![same_b, same_a];
    expected.extend(failed_ids.iter().rev().map(|(id, _)| *id));
    assert_eq!(ids, expected);
    assert!(all.iter().all(|r| r.state == State::Failed));
    assert_eq!(
        all[2].last_error.as_deref(),
        Some("error 5"),
        "rows come whole"
    );
    assert_eq!(all[2].payload, snap(4));

    let shop2: Vec<i64> = store
        .list(State::Failed, Some(2), 100)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let expected2: Vec<i64> = failed_ids
        .iter()
        .rev()
        .filter(|(_, shop)| *shop == 2)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(shop2, expected2);

    assert_eq!(store.list(State::Failed, None, 3).unwrap().len(), 3);
    assert_eq!(
        store.list(State::Failed, None, 3).unwrap()[0].id,
        same_b,
        "the limit keeps the newest"
    );
    assert!(store.list(State::Failed, None, 0).unwrap().is_empty());
    assert!(store.list(State::Failed, None, -1).unwrap().is_empty());
    assert!(store.list(State::Failed, Some(3), 100).unwrap().is_empty());

    let p = store.list(State::Pending, None, 100).unwrap();
    assert_eq!(p.iter().map(|r| r.id).collect::<Vec<_>>(), vec![pending]);
    assert!(store.list(State::Done, None, 100).unwrap().is_empty());
}

/// An operator's command never waits for the cron or the shop: it reads
/// while another process holds the write lock (WAL).
#[test]
fn reading_never_waits_for_a_writer_of_the_sqlite_file() {
    let fixture = fresh(Kind::Sqlite);
    let store: &dyn QueueStore = &*fixture;
    let id = save_in(store, SHOP, SYNC, 1, T0, T0);
    failed(store, id, "boom", T0);
    let Place::Sqlite(path) = &fixture.place else {
        unreachable!("a SQLite fixture")
    };
    let writer = rusqlite::Connection::open(path).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    writer
        .execute(
            "UPDATE shoppingfeed_order SET last_error = 'uncommitted' WHERE id_shoppingfeed_order = ?1",
            [id],
        )
        .unwrap();

    let started = std::time::Instant::now();
    let lines = store.overview(T0).unwrap().lines;
    let rows = store.list(State::Failed, None, 10).unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "read without waiting for the busy timeout"
    );
    assert_eq!(lines.len(), 1);
    assert_eq!(
        rows[0].last_error.as_deref(),
        Some("boom"),
        "the committed snapshot"
    );
    writer.execute_batch("ROLLBACK").unwrap();
}

store_tests! {
    an_empty_queue_has_no_line_and_no_row,
    lines_per_shop_action_and_state,
    due_and_claimed_follow_the_claims_rules,
    rows_of_unknown_states_are_left_out_like_counts,
    list_gives_one_state_newest_change_first_within_the_limit,
}
