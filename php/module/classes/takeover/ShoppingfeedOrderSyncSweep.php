<?php
/**
 * Picks up the state changes that never reached the hook.
 *
 * Why: PrestaShop fires actionOrderStatusPostUpdate only through
 * OrderHistory::changeIdOrderState(); payment modules' webhooks, ERPs and
 * scripts that write order_history / orders directly (or a hook that died)
 * leave Shopping Feed unaware of a shipped or cancelled order. The cron
 * runs this sweep per shop before it sends.
 *
 * run($idShop, $limit):
 *
 * - The marker: Configuration SHOPPINGFEED_ORDER_SYNC_SWEEP_LAST_ID for the
 *   shop, the last id_order_history swept. When it is not set, it is set to
 *   the current greatest id_order_history and nothing is swept: a first run
 *   (or the installer, which sets it too) never pushes the whole past of a
 *   shop to Shopping Feed.
 * - Candidates: orders of the shop imported by the module whose latest
 *   order_history row is past the marker, oldest latest-row first, at most
 *   $limit per run; the marker moves to the latest history row of the last
 *   order looked at, so every order whose latest row is at or before the
 *   marker has been looked at, and nothing is skipped when the limit cuts.
 * - An order is queued (through ShoppingfeedOrderSyncTakeover::queueStatus)
 *   when its current state (orders.current_state) is in one of the shop's
 *   lists, it is not older than the module's 90 days of eligibility
 *   (Shoppingfeed::isOrderEligibleToSync() when the module is loaded, the
 *   same rule otherwise), and the extension's queue has no SYNC_STATUS row
 *   of that state saved at or after the history row of that state (less
 *   SAVE_SLACK seconds: PrestaShop fires the hook just before it writes
 *   the history row). History dates are in PHP's time zone (PrestaShop's),
 *   the queue's in UTC.
 * - An order that could not be queued (an error, logged by the takeover)
 *   stops the marker before it, so that the next run tries it again.
 *
 * Returns counts: examined, queued, already_queued, not_listed, too_old,
 * not_queued (sync disabled, nothing to send), failed, and marker (the new
 * marker), initialized (true when this run only set the marker).
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

require_once __DIR__ . '/ShoppingfeedOrderSyncTakeover.php';

class ShoppingfeedOrderSyncSweep
{
    /** Configuration key (per shop) of the last id_order_history swept. */
    const MARKER_KEY = 'SHOPPINGFEED_ORDER_SYNC_SWEEP_LAST_ID';
    /** Orders looked at per run unless told otherwise. */
    const DEFAULT_LIMIT = 200;
    /** The module's eligibility: orders older than this are not synchronized any more. */
    const ELIGIBLE_DAYS = 90;
    /** Seconds a queue row may predate its history row and still count (the hook runs before the row is written). */
    const SAVE_SLACK = 120;

    /** @var ShoppingfeedOrderSyncTakeover */
    private $takeover;

    public function __construct(?ShoppingfeedOrderSyncTakeover $takeover = null)
    {
        $this->takeover = $takeover ?: new ShoppingfeedOrderSyncTakeover();
    }

    public function run(int $idShop, int $limit = self::DEFAULT_LIMIT): array
    {
        $stats = ['examined' => 0, 'queued' => 0, 'already_queued' => 0, 'not_listed' => 0, 'too_old' => 0,
            'not_queued' => 0, 'failed' => 0, 'marker' => 0, 'initialized' => false];
        $db = Db::getInstance();
        $raw = Configuration::get(self::MARKER_KEY, null, null, $idShop);
        if ($raw === false || $raw === null || $raw === '' || !is_numeric($raw)) {
            $max = (int) $db->getValue('SELECT MAX(`id_order_history`) FROM `' . _DB_PREFIX_ . 'order_history`');
            Configuration::updateValue(self::MARKER_KEY, $max, false, null, $idShop);
            $stats['marker'] = $max;
            $stats['initialized'] = true;

            return $stats;
        }
        $marker = (int) $raw;
        $stats['marker'] = $marker;
        if ($limit <= 0) {
            return $stats;
        }

        $rows = $db->executeS('SELECT o.`id_order`, o.`current_state`, o.`date_add`, MAX(oh.`id_order_history`) AS last_history'
            . ' FROM `' . _DB_PREFIX_ . 'orders` o'
            . ' JOIN `' . _DB_PREFIX_ . 'shoppingfeed_order` so ON so.`id_order` = o.`id_order`'
            . ' JOIN `' . _DB_PREFIX_ . 'order_history` oh ON oh.`id_order` = o.`id_order`'
            . ' WHERE o.`id_shop` = ' . (int) $idShop
            // Only the history past the marker (a range of the primary key): an order's latest row is
            // past the marker exactly when one of its rows is, so the run stays bounded however old the shop.
            . ' AND oh.`id_order_history` > ' . $marker
            . ' GROUP BY o.`id_order`, o.`current_state`, o.`date_add`'
            . ' HAVING last_history > ' . $marker
            . ' ORDER BY last_history ASC'
            . ' LIMIT ' . (int) $limit);
        $listed = $this->takeover->listedStates($idShop);
        foreach (is_array($rows) ? $rows : [] as $row) {
            $idOrder = (int) $row['id_order'];
            $state = (int) $row['current_state'];
            $stats['examined']++;
            $done = true;
            if (!in_array($state, $listed, true)) {
                $stats['not_listed']++;
            } elseif (!self::isEligible($idOrder, (string) $row['date_add'])) {
                $stats['too_old']++;
            } elseif ($this->isQueued($idOrder, $state)) {
                $stats['already_queued']++;
            } elseif ($this->takeover->queueStatus($idOrder, $state)) {
                $stats['queued']++;
            } elseif ($this->takeover->getLastOutcome() === ShoppingfeedOrderSyncTakeover::FAILED) {
                $stats['failed']++;
                $done = false;
            } else {
                $stats['not_queued']++;
            }
            if (!$done) {
                break; // tried again by the next run
            }
            $marker = (int) $row['last_history'];
        }
        if ($marker !== $stats['marker']) {
            Configuration::updateValue(self::MARKER_KEY, $marker, false, null, $idShop);
            $stats['marker'] = $marker;
        }

        return $stats;
    }

    /** Whether the queue has a SYNC_STATUS row of this state saved at or after the state's history row. */
    private function isQueued(int $idOrder, int $state): bool
    {
        $date = Db::getInstance()->getValue('SELECT `date_add` FROM `' . _DB_PREFIX_ . 'order_history` WHERE `id_order` = '
            . (int) $idOrder . ' AND `id_order_state` = ' . (int) $state . ' ORDER BY `id_order_history` DESC');
        if (!$date) {
            $date = Db::getInstance()->getValue('SELECT `date_add` FROM `' . _DB_PREFIX_ . 'order_history` WHERE `id_order` = '
                . (int) $idOrder . ' ORDER BY `id_order_history` DESC');
        }
        $since = $date ? strtotime((string) $date) : false; // PHP's (PrestaShop's) time zone
        if ($since === false) {
            $since = 0;
        }
        $utc = new DateTimeZone('UTC');
        foreach (ShoppingfeedOrderSyncQueue::find($idOrder) as $queued) {
            if (!in_array($queued['action'], ['SYNC_STATUS', 'CHECK_TICKET_SYNC_STATUS'], true)) {
                continue;
            }
            $payload = is_array($queued['payload']) ? $queued['payload'] : [];
            if (!isset($payload['id_order_state']) || (int) $payload['id_order_state'] !== $state) {
                continue;
            }
            $saved = DateTime::createFromFormat('Y-m-d H:i:s', (string) $queued['date_upd'], $utc);
            if ($saved && $saved->getTimestamp() >= $since - self::SAVE_SLACK) {
                return true;
            }
        }

        return false;
    }

    private static function isEligible(int $idOrder, string $dateAdd): bool
    {
        if (class_exists('Shoppingfeed', false) && method_exists('Shoppingfeed', 'isOrderEligibleToSync')) {
            return (bool) Shoppingfeed::isOrderEligibleToSync(new Order($idOrder));
        }
        $created = strtotime($dateAdd);

        return $created === false || time() - $created <= self::ELIGIBLE_DAYS * 86400;
    }
}
