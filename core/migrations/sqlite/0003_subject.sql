-- Migration 3: what one update is about within its order and action
-- (`subject`): the credit slip's id for SYNC_REFUND (two slips of one
-- order are two refunds, two rows), 0 for every other action (one row per
-- order and action, latest wins). No index: the order index finds the few
-- rows of an order and the subject is filtered among them.

ALTER TABLE shoppingfeed_order ADD COLUMN subject INTEGER NOT NULL DEFAULT 0;
