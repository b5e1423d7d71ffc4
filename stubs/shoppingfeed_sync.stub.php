<?php
/**
 * Stubs of the PHP extension "shoppingfeed_sync" (hand-written; for IDEs and
 * static analysis; never include this file when the extension is loaded).
 *
 * The extension gives PrestaShop's Shopping Feed module a native order-status
 * synchronization: a durable queue of order updates (SQLite), the classlib
 * Actions that save, claim, prepare, send and check them, and a Shopping Feed
 * API client (bulk operations, tickets, retries with backoff).
 *
 * Version: phpversion('shoppingfeed_sync').
 *
 * INI settings (all PHP_INI_ALL, so ini_set() works):
 *
 * - shoppingfeed_sync.database    the queue: a SQLite file path (its directory
 *                                 is created if missing; an unwritable place
 *                                 raises ShoppingfeedSyncException naming this
 *                                 setting). Default /var/lib/shoppingfeed_sync/queue.sqlite
 * - shoppingfeed_sync.api_url     Shopping Feed API base URL. https:// only,
 *                                 except http:// for loopback hosts (tests, the
 *                                 local sandbox). Default https://api.shopping-feed.com
 * - shoppingfeed_sync.timeout_ms  one HTTP request's time limit, in
 *                                 milliseconds. Default 3000
 * - shoppingfeed_sync.synchronous normal (default): a saved update survives a
 *                                 killed or crashed process; full: it also
 *                                 survives a power loss (an fsync per save:
 *                                 several times slower saves). See docs/INI.md
 *
 * Settings (conveyor 'settings', then Configuration::get($name, null, null, $idShop)
 * when the class Configuration exists, then the default):
 *
 * - SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION  real-time instead of batch (false)
 * - SHOPPINGFEED_REAL_TIME_MODE             inline (default: saveOrder sends, one attempt
 *                                           within timeout_ms) or background (v2: saveOrder
 *                                           returns once the update is durable; this
 *                                           process's sender delivers it within about a
 *                                           second, many saves in one request; a class whose
 *                                           getBatch/prepareBatch/sendBatch is written in PHP
 *                                           stays inline). Conveyor key background (bool):
 *                                           whether the sender took the update
 * - SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS    rows claimed by one getBatch (100)
 * - SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT    minutes a shipped update waits (5)
 * - SHOPPINGFEED_SHIPPED_ORDERS             JSON array of state ids meaning ship ([])
 * - SHOPPINGFEED_CANCELLED_ORDERS           ... cancel ([])
 * - SHOPPINGFEED_REFUNDED_ORDERS            ... refund ([])
 * - SHOPPINGFEED_DELIVERED_ORDERS           ... deliver ([])
 * - SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS  order-specific failures before STATE_FAILED (5)
 * - SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY   seconds; n-th retry waits DELAY x 2^(n-1), +-20 %, max 3600 (60)
 * - SHOPPINGFEED_ORDER_STATUS_LEASE_TIME    seconds a claim lasts (300)
 * - SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT hours a ship without tracking_number waits for one,
 *                                           from its first save, no attempt counted (4; 0 = at
 *                                           once; at most 168); a snapshot with
 *                                           tracking_expected => false never waits
 *
 * The conveyor (classlib's array handed from action to action):
 *
 * - id_order               int > 0 (or a decimal string), saveOrder
 * - id_shop                int > 0 (or a decimal string)
 * - order_action           an ACTION_* constant or a subclass's own action
 *                          (upper-case letters, digits and '_', 1 to 64 characters)
 * - order                  the order snapshot (saveOrder): id_internal_shoppingfeed,
 *                          or reference + marketplace; id_order_state; carrier,
 *                          tracking_number, tracking_url; reason; refund.
 *                          SYNC_REFUND (one credit slip): id_order_slip (int > 0,
 *                          required: one row per slip, a slip saved again once
 *                          sent or settled queues nothing) and refund =>
 *                          ['shipping' => bool, 'products' => [['reference' => string,
 *                          'quantity' => int > 0], ...]] (at least one product:
 *                          the API reads an empty list as a full refund).
 *                          SYNC_INVOICE (the order's invoices, latest save wins):
 *                          documents => [['name' => 'FA000012.pdf', 'type' =>
 *                          'invoice' (default), 'content' => the PDF's bytes], ...]:
 *                          1 to 10 documents, each a PDF (starts with %PDF-) of
 *                          at most 5,000,000 bytes, 10,000,000 bytes in all; kept in
 *                          the queue (base64) so any web server's cron can send
 *                          them; find() and batch show name, type and size only
 * - token                  Shopping Feed API token (API steps; never in a message)
 * - shoppingfeed_store_id  Shopping Feed store id, int (API steps). Extension: on
 *                          saveOrder it tags the row with its store (find(): key
 *                          shoppingfeed_store_id, 0 = none; a save without it keeps
 *                          the row's tag); on getBatch only rows of that store or
 *                          untagged ones are claimed (one token, one store)
 * - settings               optional overrides of the settings, keyed by name
 * - deadline               optional (extension): Unix time in seconds (int or float,
 *                          as microtime(true)) at which checkTickets stops reading
 *                          tickets; unread rows are left for the next run
 *
 * Set by the extension:
 *
 * - id_shoppingfeed_order  saveOrder: the id of the saved row
 * - claim                  getBatch: the lease token of the claimed rows; the
 *                          later steps only touch rows of that claim
 * - batch                  getBatch: the claimed rows (arrays as from ShoppingfeedOrderSyncQueue::find())
 * - operations             prepareBatch: operation name => list of rows
 * - sent, succeeded, pending   lists of row ids
 * - failed                 list of rows (as from find()) that reached STATE_FAILED in this call
 * - errors                 list of messages
 *   (each step appends to these report lists when they already exist)
 */

/**
 * Constants and queue inspection.
 *
 * Named ShoppingfeedOrder in v1: today's Shopping Feed module declares a
 * ShoppingfeedOrder class of its own, so the extension declares none.
 */
final class ShoppingfeedOrderSyncQueue
{
    /** Send the order's new status to Shopping Feed. */
    public const ACTION_SYNC_STATUS = 'SYNC_STATUS';
    /** Internal stage: the status was sent, its ticket is to be read. */
    public const ACTION_CHECK_TICKET_SYNC_STATUS = 'CHECK_TICKET_SYNC_STATUS';
    /** Send the order's invoices to Shopping Feed (v2). */
    public const ACTION_SYNC_INVOICE = 'SYNC_INVOICE';
    /** Internal stage: the invoices were sent, their ticket is to be read. */
    public const ACTION_CHECK_TICKET_SYNC_INVOICE = 'CHECK_TICKET_SYNC_INVOICE';
    /** Send the order's partial refunds (credit slips) to Shopping Feed (v2). */
    public const ACTION_SYNC_REFUND = 'SYNC_REFUND';
    /** Internal stage: the refund was sent, its ticket is to be read. */
    public const ACTION_CHECK_TICKET_SYNC_REFUND = 'CHECK_TICKET_SYNC_REFUND';

    /** Waiting to be sent (maybe not yet due). */
    public const STATE_PENDING = 'pending';
    /** Accepted by the API, ticket not final yet. */
    public const STATE_SENT = 'sent';
    /** Ticket succeeded (or was canceled by the API), or nothing had to be sent. */
    public const STATE_DONE = 'done';
    /** Gave up: final failure, kept for the merchant. */
    public const STATE_FAILED = 'failed';

    /** A static utility class: not instantiable. */
    private function __construct()
    {
    }

    /**
     * Every queue row of one PrestaShop order, oldest first.
     *
     * A row: id_shoppingfeed_order, id_order, id_shop (ints), action, state,
     * operation (ship|cancel|refund|deliver|upload-documents|null), payload (array), batch_id,
     * ticket_id, attempts, failures (ints), last_error, update_at, date_add,
     * date_upd ('Y-m-d H:i:s', UTC). Extension: shoppingfeed_store_id (int,
     * 0 = untagged) and subject (int: the credit slip of a SYNC_REFUND row,
     * else 0).
     *
     * @return list<array<string, mixed>>
     *
     * @throws ShoppingfeedSyncException for a negative id or an unusable database
     */
    public static function find(int $idOrder): array {}

    /**
     * Row counts of one shop (every action), keyed by STATE_*, zeros included.
     *
     * @return array{pending: int, sent: int, done: int, failed: int}
     *
     * @throws ShoppingfeedSyncException
     */
    public static function counts(int $idShop): array {}

    /**
     * Puts failed rows of a shop (all, or those of the given orders) back to
     * pending, with attempts and failures reset to 0.
     *
     * @param int[]|null $idOrders
     *
     * @return int how many rows
     *
     * @throws ShoppingfeedSyncException
     */
    public static function retryFailed(int $idShop, ?array $idOrders = null): int {}

    /**
     * Deletes the done rows whose last change is older than $days days.
     *
     * @return int how many rows
     *
     * @throws ShoppingfeedSyncException for a negative number of days
     */
    public static function purge(int $days): int {}

    /**
     * Copies every row of another queue into the current one (the one
     * shoppingfeed_sync.database names): a shop moving its queue from a
     * SQLite file to its MySQL database keeps every pending, sent and failed
     * update, with its attempts, failures, batch and ticket. Done rows only
     * with $includeDone. The source is only read. Idempotent: rows copied by
     * an earlier run are recognised (same shop, order, action, date_add and
     * snapshot) and not added again. Run it with the crons stopped.
     * (An extension of the contract; the CLI runner's `move` command.)
     *
     * @param string $database the old queue: a SQLite path, a mysql:// URL or "prestashop"
     *
     * @return array{copied: int, already_there: int, done_left: int}
     *
     * @throws ShoppingfeedSyncException when $database is the current queue,
     *   does not exist or cannot be read, or the current queue cannot be written
     */
    public static function importFrom(string $database, ?bool $includeDone = null): array {}

    /**
     * What the queue holds, for an operator (an extension of the contract;
     * php/tools/bin/sync-orders.php status prints it): one array per
     * (shop, action, state) that has rows, none for an empty combination,
     * ordered by shop, action (as stored: SYNC_STATUS, or its ticket stage
     * CHECK_TICKET_SYNC_STATUS), then state (pending, sent, done, failed).
     * Rows of another state are left out, as in counts().
     *
     * Each line: id_shop (int), action, state, count (int); due (int: rows a
     * claim would take now, were they not leased; 0 for done and failed);
     * claimed (int: rows leased to a run now); oldest_due_at (the earliest
     * due time of the due rows, 'Y-m-d H:i:s' UTC, or null) and
     * oldest_due_age (seconds since then, int, or null); next_due_at (the
     * earliest due time of the rows not due yet, or null) and next_due_in
     * (seconds until then, or null); last_change_at (the latest date_upd of
     * these rows); now (the time the queue was read, 'Y-m-d H:i:s' UTC).
     * Ages and "due" are counted from that one time, with the claims' rules
     * (a due time beyond any setting, written while the clock ran ahead,
     * counts as due and as 0 s old).
     *
     * @return list<array{id_shop: int, action: string, state: string, count: int, due: int, claimed: int, oldest_due_at: ?string, oldest_due_age: ?int, next_due_at: ?string, next_due_in: ?int, last_change_at: string, now: string}>
     *
     * @throws ShoppingfeedSyncException for an unusable database
     */
    public static function overview(): array {}

    /**
     * Extension: the background sender of this PHP process
     * (SHOPPINGFEED_REAL_TIME_MODE=background). running (bool); accepted
     * (updates handed to it), waiting (for its next round), dropped (not
     * taken: more than 10,000 waiting; their rows wait for the cron),
     * rounds, sent (rows the API accepted), settled (done without a
     * request), left_for_cron (rows it put back to wait: an outage, a
     * retry); last_error (never the token), last_error_at, last_round_at
     * ('Y-m-d H:i:s' UTC or null). All zero/false/null when no sender was
     * started in this process (a PHP-FPM worker has its own).
     *
     * @return array{running: bool, accepted: int, waiting: int, dropped: int, rounds: int, sent: int, settled: int, left_for_cron: int, last_error: ?string, last_error_at: ?string, last_round_at: ?string}
     */
    public static function backgroundSender(): array {}

    /**
     * Rows of one state, of one shop or of every shop, the most recently
     * changed first (date_upd, then id, descending), at most $limit (an
     * extension of the contract; sync-orders.php failed prints them). Rows
     * as from find().
     *
     * @param string   $state  one of the STATE_* constants
     * @param int|null $idShop one shop, or null for every shop
     * @param int      $limit  1 to 10000
     *
     * @return list<array<string, mixed>>
     *
     * @throws ShoppingfeedSyncException naming state, idShop or limit for bad input, or for an unusable database
     */
    public static function rows(string $state, ?int $idShop = null, int $limit = 100): array {}
}

/**
 * classlib Actions saving and retrieving order updates. Extend it for every
 * synchronizable field (ShoppingfeedOrderSync[Field]Actions, with an action
 * of its own and its own prepareBatch/sendBatch): the base class calls the
 * subclass's methods through PHP, in real-time mode too.
 */
abstract class ShoppingfeedOrderSyncActions
{
    public function __construct() {}

    /**
     * "[Order: 12]": the log prefix of today's Shopping Feed module, which
     * calls ShoppingfeedOrderSyncActions::getLogPrefix() in its order import
     * and hooks (outside any try). Never throws.
     *
     * @param mixed $idOrder an order id (int or string), or nothing
     */
    public static function getLogPrefix($idOrder = null): string {}

    /**
     * Replaces the conveyor.
     *
     * @return static $this
     */
    public function setConveyor(array $conveyor): static {}

    public function getConveyor(): array {}

    /**
     * classlib compatibility (the model is usually null).
     *
     * @param mixed $model
     *
     * @return static $this
     */
    public function setModelObject($model): static {}

    /**
     * Calls another action method of this object ($this->$action()).
     */
    public function forward(string $action): bool {}

    /**
     * Saves one order update in the queue (durable when it returns true);
     * replaces the snapshot of a pending row of the same order and action.
     * In real-time mode (and with token and shoppingfeed_store_id) it then
     * runs $this->getBatch(), prepareBatch(), sendBatch() for that row only,
     * with at most one HTTP attempt; API trouble leaves the row queued and
     * still returns true. Sets the conveyor's id_shoppingfeed_order.
     *
     * @throws ShoppingfeedSyncException for bad input (the message names the key or setting)
     */
    public function saveOrder(): bool {}

    /**
     * Claims the due rows of the conveyor's shop and order_action, oldest
     * first, up to SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS, leased for
     * SHOPPINGFEED_ORDER_STATUS_LEASE_TIME seconds. Sets batch and claim.
     * With shoppingfeed_store_id, only rows tagged with that store or
     * untagged ones.
     *
     * @return bool false when nothing is due
     *
     * @throws ShoppingfeedSyncException
     */
    public function getBatch(): bool {}

    /**
     * Settles rows of the current claim: STATE_DONE, STATE_PENDING (a retry:
     * attempts + 1 and the retry delay; with $orderFailure also failures + 1,
     * and STATE_FAILED once failures reach the limit) or STATE_FAILED.
     * Releases their claim.
     *
     * @param int[] $ids row ids (id_shoppingfeed_order)
     *
     * @return int how many rows changed
     *
     * @throws ShoppingfeedSyncException
     */
    public function settle(array $ids, string $state, ?string $message = null, bool $orderFailure = false): int {}
}

/**
 * The order-status field: ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS.
 *
 * Cron chains: send = getBatch, prepareBatch, sendBatch (order_action
 * SYNC_STATUS); check = getBatch, checkTickets (order_action
 * CHECK_TICKET_SYNC_STATUS).
 */
class ShoppingfeedOrderSyncStatusActions extends ShoppingfeedOrderSyncActions
{
    /**
     * Maps each claimed row's id_order_state to a Shopping Feed operation
     * (ship, cancel, refund, deliver) through the four state lists; a state
     * in none of them settles the row as done. Sets operations.
     *
     * @throws ShoppingfeedSyncException for a malformed state list
     */
    public function prepareBatch(): bool {}

    /**
     * Sends the operations (one request per operation, at most 100 orders
     * each) and records the batch ids; a 202 moves the rows to
     * CHECK_TICKET_SYNC_STATUS / STATE_SENT.
     *
     * @throws ShoppingfeedApiException when the API refuses the token (401/403): the claims are released
     * @throws ShoppingfeedSyncException for bad input
     */
    public function sendBatch(): bool {}

    /**
     * Reads the tickets of the claimed CHECK_TICKET rows by batch id and
     * settles each row (succeed/canceled: done; failed: retry, then
     * STATE_FAILED; scheduled/running: left as is; unknown batch: retry).
     *
     * @throws ShoppingfeedApiException when the API refuses the token
     * @throws ShoppingfeedSyncException for bad input
     */
    public function checkTickets(): bool {}
}

/**
 * Partial refunds (v2): ShoppingfeedOrderSyncQueue::ACTION_SYNC_REFUND, one
 * credit slip per row (order.id_order_slip), sent as a `refund` with exactly
 * that slip's products and shipping flag, whatever the order's state. Two
 * slips of one order are two refunds (each its own request, so each ticket
 * is read alone); a slip saved again once it is being sent, sent or settled
 * is not queued again.
 *
 * Cron chains: send = getBatch, prepareBatch, sendBatch (order_action
 * SYNC_REFUND); check = getBatch, checkTickets (CHECK_TICKET_SYNC_REFUND).
 * The methods work as ShoppingfeedOrderSyncStatusActions's.
 */
class ShoppingfeedOrderSyncRefundActions extends ShoppingfeedOrderSyncActions
{
    /** Maps each claimed row to a `refund`; sets operations. */
    public function prepareBatch(): bool {}

    /**
     * Sends the refunds (at most 100 orders a request, each order once) and
     * records the batch ids.
     *
     * @throws ShoppingfeedApiException when the API refuses the token (401/403): the claims are released
     * @throws ShoppingfeedSyncException for bad input
     */
    public function sendBatch(): bool {}

    /**
     * Reads the tickets of the claimed CHECK_TICKET_SYNC_REFUND rows and settles each row.
     *
     * @throws ShoppingfeedApiException when the API refuses the token
     * @throws ShoppingfeedSyncException for bad input
     */
    public function checkTickets(): bool {}
}

/**
 * Invoices (v2): ShoppingfeedOrderSyncQueue::ACTION_SYNC_INVOICE, one row
 * per order carrying its invoice PDFs (order.documents), uploaded with
 * `upload-documents` (multipart: one files[] part per PDF and the body part
 * naming each order and its documents), whatever the order's state. At most
 * 20 files and 20,000,000 bytes a request; every batch id kept, every
 * ticket read. A later save of the order replaces a pending one. The bytes
 * of a done row go when done rows are purged.
 *
 * Cron chains: send = getBatch, prepareBatch, sendBatch (order_action
 * SYNC_INVOICE); check = getBatch, checkTickets (CHECK_TICKET_SYNC_INVOICE).
 */
class ShoppingfeedOrderSyncInvoiceActions extends ShoppingfeedOrderSyncActions
{
    /** Maps each claimed row to an `upload-documents`; sets operations. */
    public function prepareBatch(): bool {}

    /**
     * Uploads the documents and records the batch ids.
     *
     * @throws ShoppingfeedApiException when the API refuses the token (401/403): the claims are released
     * @throws ShoppingfeedSyncException for bad input
     */
    public function sendBatch(): bool {}

    /**
     * Reads the tickets of the claimed CHECK_TICKET_SYNC_INVOICE rows and settles each row.
     *
     * @throws ShoppingfeedApiException when the API refuses the token
     * @throws ShoppingfeedSyncException for bad input
     */
    public function checkTickets(): bool {}
}

/**
 * Bad input or configuration (the message names the conveyor key, setting or
 * INI entry). Never contains the API token.
 */
class ShoppingfeedSyncException extends RuntimeException
{
}

/**
 * An API failure that stops a run (for example a rejected token).
 */
class ShoppingfeedApiException extends ShoppingfeedSyncException
{
}
