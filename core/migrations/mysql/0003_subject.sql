-- Migration 3: what one update is about within its order and action
-- (`subject`): the credit slip's id for SYNC_REFUND, 0 for every other
-- action. "One unclaimed pending row" now holds per (order, shop, action,
-- subject): two slips of one order are two rows. One statement, so the
-- column and the key change together or not at all; run again after a
-- crash before the stamp, it meets "Duplicate column name" (done).

ALTER TABLE `{table}` ADD COLUMN subject BIGINT NOT NULL DEFAULT 0, DROP INDEX sfsync_pending, ADD UNIQUE KEY sfsync_pending (id_order, id_shop, action, subject, pending_slot);
