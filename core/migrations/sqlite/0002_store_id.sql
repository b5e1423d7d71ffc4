-- Migration 2: the Shopping Feed store each update belongs to (the store
-- of the token its order was imported with; 0 = not said). A claim for one
-- store takes its rows and the untagged ones (see claims.rs); no index: the
-- claim filters the rows its index range yields.

ALTER TABLE shoppingfeed_order ADD COLUMN store_id INTEGER NOT NULL DEFAULT 0;
