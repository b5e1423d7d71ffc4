-- Migration 1 of the MySQL/MariaDB queue. `{table}` is replaced by
-- `<prefix>shoppingfeed_order_sync_queue`. The runner
-- (core/src/queue/mysql/schema.rs) holds GET_LOCK while it applies a
-- migration and records the version in the table's COMMENT (DDL commits
-- implicitly in MySQL: there is no transaction to stamp it in).
--
-- Why the two generated columns (MySQL has no partial index):
-- - `live` (1 for pending and sent rows) leads the claim index, so a claim
--   reads only live rows of one (shop, action) in due order, however many
--   done rows the table keeps;
-- - `pending_slot` (1 for an unclaimed pending row, NULL otherwise) makes
--   "one unclaimed pending row per (order, shop, action)" a UNIQUE key:
--   two web servers saving the same order at the same instant meet on it,
--   and INSERT ... ON DUPLICATE KEY UPDATE turns the second into an update
--   (latest wins). NULLs never collide, so claimed, sent, done and failed
--   rows are not constrained.
-- Times are unix seconds of the database server's clock.
-- Widths: `action` holds the longest name the binding accepts (64) in its
-- ticket stage (`CHECK_TICKET_` + 64 = 77); claim tokens, batch and ticket
-- ids and messages are as long as the caller's (unbounded in SQLite too).

CREATE TABLE IF NOT EXISTS `{table}` (
    id_shoppingfeed_order_sync_queue BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    id_order BIGINT NOT NULL,
    id_shop BIGINT NOT NULL,
    action VARCHAR(80) NOT NULL,
    state VARCHAR(16) NOT NULL,
    operation VARCHAR(32) NULL,
    payload LONGTEXT NOT NULL,
    batch_id TEXT NULL,
    ticket_id TEXT NULL,
    attempts INT NOT NULL DEFAULT 0,
    failures INT NOT NULL DEFAULT 0,
    last_error MEDIUMTEXT NULL,
    update_at BIGINT NOT NULL,
    date_add BIGINT NOT NULL,
    date_upd BIGINT NOT NULL,
    locked_by TEXT NULL,
    locked_until BIGINT NULL,
    live TINYINT AS (IF(state IN ('pending', 'sent'), 1, 0)) STORED,
    pending_slot TINYINT AS (IF(state = 'pending' AND locked_by IS NULL, 1, NULL)) STORED,
    PRIMARY KEY (id_shoppingfeed_order_sync_queue),
    UNIQUE KEY sfsync_pending (id_order, id_shop, action, pending_slot),
    KEY sfsync_claim (id_shop, action, live, update_at, id_shoppingfeed_order_sync_queue),
    KEY sfsync_state (state, id_shop)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
