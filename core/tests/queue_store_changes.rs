//! The queue stores' `apply`: what each `Change` does to a claimed row, the
//! claim guard, and superseded rows. Each test runs on every store
//! (`sqlite::` and `mysql::`, see queue_support).

#[macro_use]
mod queue_support;

use queue_support::*;
use sfsync_core::model::{Operation, State};
use sfsync_core::queue::{Applied, Change};

fn set_operation_and_ticket_keep_the_claim(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    claim_all(&*store, SYNC, T0, "run");
    let out = store
        .apply(
            &[(a, Change::SetOperation(Some(Operation::Ship)))],
            Some("run"),
            T0 + 1,
        )
        .unwrap();
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Pending
        }]
    );
    let r = row(&*store, a);
    assert_eq!((r.operation, r.date_upd), (Some(Operation::Ship), T0 + 1));
    // Still claimed by "run": nobody else can take it, and "run" can go on.
    assert!(claim_all(&*store, SYNC, T0 + 1, "other").is_empty());
    let out = apply1(
        &*store,
        a,
        Change::SetTicket("t-1".into()),
        Some("run"),
        T0 + 2,
    );
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Pending
        }]
    );
    assert_eq!(row(&*store, a).ticket_id.as_deref(), Some("t-1"));
    assert!(claim_all(&*store, SYNC, T0 + 2, "other").is_empty());
    apply1(&*store, a, Change::SetOperation(None), Some("run"), T0 + 3);
    assert_eq!(row(&*store, a).operation, None);
}

fn sent_then_ticket_then_done(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    claim_all(&*store, SYNC, T0, "send");
    store
        .apply(
            &[
                (a, Change::SetOperation(Some(Operation::Cancel))),
                (
                    a,
                    Change::Sent {
                        batch_id: "batch-9".into(),
                    },
                ),
            ],
            Some("send"),
            T0 + 5,
        )
        .unwrap();
    let r = row(&*store, a);
    assert_eq!(
        (r.state, r.action.as_str(), r.batch_id.as_deref()),
        (State::Sent, CHECK, Some("batch-9"))
    );
    assert_eq!((r.update_at, r.date_upd, r.attempts), (T0 + 5, T0 + 5, 0));
    assert_eq!(r.operation, Some(Operation::Cancel));
    assert!(
        claim_all(&*store, SYNC, T0 + 100, "send2").is_empty(),
        "no longer a SYNC_STATUS row"
    );

    // Due at once for the check chain, claim released.
    let rows = store
        .claim(SHOP, CHECK, 10, T0 + 5, T0 + 305, "check", None)
        .unwrap();
    assert_eq!(rows.len(), 1);
    let out = store
        .apply(
            &[
                (a, Change::SetTicket("tk-1".into())),
                (
                    a,
                    Change::Done {
                        message: Some("ignored: already performed".into()),
                    },
                ),
            ],
            Some("check"),
            T0 + 6,
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            Applied {
                id: a,
                state: State::Sent
            },
            Applied {
                id: a,
                state: State::Done
            }
        ]
    );
    let r = row(&*store, a);
    assert_eq!(r.state, State::Done);
    assert_eq!(r.ticket_id.as_deref(), Some("tk-1"));
    assert_eq!(
        r.batch_id.as_deref(),
        Some("batch-9"),
        "a done row keeps its batch"
    );
    assert_eq!(
        r.operation,
        Some(Operation::Cancel),
        "a done row keeps its operation"
    );
    assert_eq!(r.last_error.as_deref(), Some("ignored: already performed"));
    assert!(store
        .claim(SHOP, CHECK, 10, T0 + 1000, T0 + 1300, "x", None)
        .unwrap()
        .is_empty());
    // Done with None clears last_error.
    apply1(&*store, a, Change::Done { message: None }, None, T0 + 7);
    assert_eq!(row(&*store, a).last_error, None);
}

fn retry_moves_back_with_one_more_attempt(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    claim_all(&*store, SYNC, T0, "send");
    apply1(
        &*store,
        a,
        Change::Sent {
            batch_id: "b".into(),
        },
        Some("send"),
        T0 + 1,
    );
    claim_all(&*store, CHECK, T0 + 1, "check");
    let out = apply1(&*store, a, retry(T0 + 60, false, 5), Some("check"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Pending
        }]
    );
    let r = row(&*store, a);
    assert_eq!(
        (r.state, r.action.as_str()),
        (State::Pending, SYNC),
        "back to the base action"
    );
    assert_eq!((r.attempts, r.failures), (1, 0));
    assert_eq!((r.update_at, r.date_upd), (T0 + 60, T0 + 2));
    assert_eq!(r.last_error.as_deref(), Some("boom"));
    assert_eq!(r.id, a, "same row");
    assert!(
        claim_all(&*store, SYNC, T0 + 59, "x").is_empty(),
        "not due before the delay"
    );
    assert_eq!(
        claim_all(&*store, SYNC, T0 + 60, "x"),
        vec![a],
        "claim released"
    );
}

fn order_failures_reach_the_limit(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    let mut now = T0;
    for n in 1..=3 {
        assert_eq!(claim_all(&*store, SYNC, now, "run"), vec![a]);
        let out = apply1(&*store, a, retry(now, true, 3), Some("run"), now);
        let expected = if n < 3 { State::Pending } else { State::Failed };
        assert_eq!(
            out,
            vec![Applied {
                id: a,
                state: expected
            }],
            "failure {n}"
        );
        let r = row(&*store, a);
        assert_eq!((r.attempts, r.failures, r.state), (n, n, expected));
        now += 1;
    }
    // An outage retry never fails a row, whatever the count.
    let b = save(&*store, 2, now, now);
    for _ in 0..10 {
        claim_all(&*store, SYNC, now, "run");
        apply1(&*store, b, retry(now, false, 1), Some("run"), now);
    }
    let r = row(&*store, b);
    assert_eq!((r.state, r.attempts, r.failures), (State::Pending, 10, 0));
    assert!(
        claim_all(&*store, SYNC, now + 1000, "z") == vec![b],
        "the failed row is never claimed"
    );
}

fn defer_keeps_state_and_action(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    claim_all(&*store, SYNC, T0, "send");
    apply1(
        &*store,
        a,
        Change::Sent {
            batch_id: "b".into(),
        },
        Some("send"),
        T0,
    );
    claim_all(&*store, CHECK, T0, "check");
    let out = apply1(
        &*store,
        a,
        Change::Defer {
            due_at: T0 + 90,
            message: "timeout".into(),
        },
        Some("check"),
        T0 + 1,
    );
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Sent
        }]
    );
    let r = row(&*store, a);
    assert_eq!(
        (r.state, r.action.as_str(), r.batch_id.as_deref()),
        (State::Sent, CHECK, Some("b"))
    );
    assert_eq!((r.attempts, r.failures, r.update_at), (1, 0, T0 + 90));
    assert_eq!(r.last_error.as_deref(), Some("timeout"));
    assert!(claim_all(&*store, CHECK, T0 + 89, "x").is_empty());
    assert_eq!(claim_all(&*store, CHECK, T0 + 90, "x"), vec![a]);
}

fn failed_and_release(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    let b = save(&*store, 2, T0, T0);
    claim_all(&*store, SYNC, T0, "run");
    let out = store
        .apply(
            &[
                (
                    a,
                    Change::Failed {
                        message: "rejected".into(),
                    },
                ),
                (b, Change::Release),
            ],
            Some("run"),
            T0 + 1,
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            Applied {
                id: a,
                state: State::Failed
            },
            Applied {
                id: b,
                state: State::Pending
            }
        ]
    );
    let ra = row(&*store, a);
    assert_eq!(
        (ra.state, ra.last_error.as_deref(), ra.attempts),
        (State::Failed, Some("rejected"), 0)
    );
    let rb = row(&*store, b);
    assert_eq!(
        (
            rb.state,
            rb.attempts,
            rb.failures,
            rb.update_at,
            rb.last_error
        ),
        (State::Pending, 0, 0, T0, None)
    );
    assert_eq!(rb.date_upd, T0 + 1);
    assert_eq!(
        claim_all(&*store, SYNC, T0 + 1, "next"),
        vec![b],
        "released at once, failed row stays out"
    );
}

fn changes_without_claim_and_missing_rows(kind: Kind) {
    let store = fresh(kind);
    let a = save(&*store, 1, T0, T0);
    // Without a claim a change applies to any row.
    let out = apply1(&*store, a, Change::Done { message: None }, None, T0);
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Done
        }]
    );
    // Unknown ids are skipped; an empty change list is fine.
    assert!(apply1(&*store, 999, Change::Release, None, T0).is_empty());
    assert!(store.apply(&[], Some("x"), T0).unwrap().is_empty());
    // A claim token that does not hold the row changes nothing.
    let b = save(&*store, 2, T0, T0);
    assert!(apply1(
        &*store,
        b,
        Change::Failed {
            message: "x".into()
        },
        Some("nobody"),
        T0
    )
    .is_empty());
    assert_eq!(row(&*store, b).state, State::Pending);
}

fn a_row_coming_back_is_superseded_by_a_newer_pending_row(kind: Kind) {
    let store = fresh(kind);
    let old = save(&*store, 12, T0, T0);
    claim_all(&*store, SYNC, T0, "run");
    let newer = store
        .upsert_pending(SHOP, 12, SYNC, &snap(6), T0 + 1, T0 + 1)
        .unwrap();
    let out = apply1(&*store, old, retry(T0 + 60, false, 5), Some("run"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: old,
            state: State::Done
        }]
    );
    let r = row(&*store, old);
    assert_eq!(r.state, State::Done);
    assert_eq!(
        r.last_error,
        Some(format!("superseded by a newer update (row {newer})"))
    );
    assert_eq!(row(&*store, newer).state, State::Pending);
    assert_eq!(claim_all(&*store, SYNC, T0 + 100, "next"), vec![newer]);

    // A released claim (refused token) is superseded the same way.
    let first = save(&*store, 13, T0, T0);
    claim_all(&*store, SYNC, T0, "run2");
    let second = save(&*store, 13, T0, T0 + 1);
    let out = apply1(&*store, first, Change::Release, Some("run2"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: first,
            state: State::Done
        }]
    );
    assert_eq!(row(&*store, second).state, State::Pending);

    // Without a newer row, a retry stays pending; other orders, shops and
    // actions never supersede.
    let lone = save(&*store, 14, T0, T0);
    store.upsert_pending(2, 14, SYNC, &snap(4), T0, T0).unwrap();
    store
        .upsert_pending(SHOP, 14, "SYNC_CARRIER", &snap(4), T0, T0)
        .unwrap();
    save(&*store, 15, T0, T0);
    store
        .claim(SHOP, SYNC, 1, T0, T0 + 300, "run3", Some(lone))
        .unwrap();
    let out = apply1(&*store, lone, retry(T0, false, 5), Some("run3"), T0 + 1);
    assert_eq!(
        out,
        vec![Applied {
            id: lone,
            state: State::Pending
        }]
    );
}

fn a_failing_ticket_is_superseded_by_a_newer_live_row(kind: Kind) {
    let store = fresh(kind);
    // Row A is sent; meanwhile the merchant changes the order again (row B),
    // and B is claimed by a send run when A's ticket fails.
    let a = save(&*store, 12, T0, T0);
    claim_all(&*store, SYNC, T0, "send");
    apply1(
        &*store,
        a,
        Change::Sent {
            batch_id: "b1".into(),
        },
        Some("send"),
        T0,
    );
    let b = store
        .upsert_pending(SHOP, 12, SYNC, &snap(6), T0 + 1, T0 + 1)
        .unwrap();
    claim_all(&*store, SYNC, T0 + 1, "send2");
    claim_all(&*store, CHECK, T0 + 1, "check");
    let out = apply1(&*store, a, retry(T0 + 60, true, 5), Some("check"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: a,
            state: State::Done
        }]
    );
    assert_eq!(
        row(&*store, a).last_error,
        Some(format!("superseded by a newer update (row {b})"))
    );

    // A row reaching the failure limit is kept failed for the merchant.
    let c = save(&*store, 20, T0, T0);
    claim_all(&*store, SYNC, T0, "s");
    save(&*store, 20, T0, T0 + 1);
    let out = apply1(&*store, c, retry(T0, true, 1), Some("s"), T0 + 2);
    assert_eq!(
        out,
        vec![Applied {
            id: c,
            state: State::Failed
        }]
    );
}

fn long_names_and_messages_are_kept_whole(kind: Kind) {
    let store = fresh(kind);
    // The longest action name the binding accepts, and its ticket stage
    // (13 characters longer).
    let action = format!("SYNC_{}", "X".repeat(59));
    sfsync_core::model::validate_action(&action).unwrap();
    let stage = sfsync_core::model::check_action(&action);
    assert_eq!((action.len(), stage.len()), (64, 77));
    // Claim tokens, batch and ticket ids and messages of any length.
    let token = format!("run-{}", "t".repeat(300));
    let batch = format!("batch-{}", "b".repeat(5_000));
    let ticket = format!("ticket-{}", "k".repeat(5_000));
    let message = format!("boom: {}", "m".repeat(100_000));

    let id = store
        .upsert_pending(SHOP, 1, &action, &snap(4), T0, T0)
        .unwrap();
    let got = store
        .claim(SHOP, &action, 10, T0, T0 + 300, &token, None)
        .unwrap();
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(store.lease_of(id).0.as_deref(), Some(token.as_str()));
    let out = apply1(
        &*store,
        id,
        Change::Sent {
            batch_id: batch.clone(),
        },
        Some(&token),
        T0 + 1,
    );
    assert_eq!(
        out,
        vec![Applied {
            id,
            state: State::Sent
        }]
    );
    let r = row(&*store, id);
    assert_eq!(
        (r.action.as_str(), r.batch_id.as_deref()),
        (stage.as_str(), Some(batch.as_str()))
    );

    let got = store
        .claim(SHOP, &stage, 10, T0 + 1, T0 + 301, &token, None)
        .unwrap();
    assert_eq!(got.len(), 1);
    store
        .apply(
            &[
                (id, Change::SetTicket(ticket.clone())),
                (id, retry(T0 + 60, false, 5)),
            ],
            Some(&token),
            T0 + 2,
        )
        .unwrap();
    let r = row(&*store, id);
    assert_eq!(
        (r.state, r.action.as_str()),
        (State::Pending, action.as_str())
    );
    assert_eq!(r.ticket_id.as_deref(), Some(ticket.as_str()));
    assert_eq!(r.last_error.as_deref(), Some("boom"));
    assert_eq!(claim_all(&*store, &action, T0 + 60, "next"), vec![id]);
    apply1(
        &*store,
        id,
        Change::Failed {
            message: message.clone(),
        },
        Some("next"),
        T0 + 61,
    );
    let r = row(&*store, id);
    assert_eq!(r.state, State::Failed);
    assert_eq!(r.last_error.as_deref(), Some(message.as_str()));
}

store_tests! {
    long_names_and_messages_are_kept_whole,
    set_operation_and_ticket_keep_the_claim,
    sent_then_ticket_then_done,
    retry_moves_back_with_one_more_attempt,
    order_failures_reach_the_limit,
    defer_keeps_state_and_action,
    failed_and_release,
    changes_without_claim_and_missing_rows,
    a_row_coming_back_is_superseded_by_a_newer_pending_row,
    a_failing_ticket_is_superseded_by_a_newer_live_row,
}
