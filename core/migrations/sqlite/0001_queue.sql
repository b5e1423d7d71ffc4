-- Migration 1: the queue as the first release created it (PRAGMA
-- user_version = 1). The runner (core/src/queue/sqlite/schema.rs) applies
-- it inside BEGIN IMMEDIATE and stamps the version in the same transaction:
-- no BEGIN, COMMIT or user_version here. The statements are the first
-- release's, text included (SQLite keeps that text in sqlite_master).
-- Why each index exists: see schema.rs.

CREATE TABLE IF NOT EXISTS shoppingfeed_order (
    id_shoppingfeed_order INTEGER PRIMARY KEY AUTOINCREMENT,
    id_order INTEGER NOT NULL,
    id_shop INTEGER NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    operation TEXT,
    payload TEXT NOT NULL,
    batch_id TEXT,
    ticket_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    update_at INTEGER NOT NULL,
    date_add INTEGER NOT NULL,
    date_upd INTEGER NOT NULL,
    locked_by TEXT,
    locked_until INTEGER
);
CREATE INDEX IF NOT EXISTS shoppingfeed_order_claim
    ON shoppingfeed_order (id_shop, action, update_at)
    WHERE state IN ('pending', 'sent');
CREATE INDEX IF NOT EXISTS shoppingfeed_order_order
    ON shoppingfeed_order (id_order, id_shop, action);
CREATE INDEX IF NOT EXISTS shoppingfeed_order_state
    ON shoppingfeed_order (state, id_shop);
