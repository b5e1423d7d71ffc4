-- Migration 2: the Shopping Feed store each update belongs to (the store
-- of the token its order was imported with; 0 = not said). A claim for one
-- store takes its rows and the untagged ones; no index: the claim filters
-- the candidates its index range yields. Run again after a crash before
-- the stamp, the ADD COLUMN meets "Duplicate column name", which the
-- runner takes as done.

ALTER TABLE `{table}` ADD COLUMN store_id BIGINT NOT NULL DEFAULT 0;
