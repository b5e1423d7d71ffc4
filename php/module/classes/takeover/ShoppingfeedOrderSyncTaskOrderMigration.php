<?php
/**
 * Moves the module's pending order-sync tasks (table shoppingfeed_task_order)
 * into the extension's queue.
 *
 * Why: once the extension takes over, the module's cron never reads its
 * own queue again; the updates a shop had waiting there at install time
 * (or queued by the module's own path while the extension was not loaded in
 * some PHP) would be lost. Run by the installer and at the start of every
 * taken-over syncOrder cron; idempotent.
 *
 * Per task row, oldest first:
 *
 * - SYNC_STATUS, CHECK_TICKET_SYNC_STATUS: queueStatus() with the order's
 *   current state, or, when that state is in no list, the latest listed
 *   state of its history (the module's cron maps the latest listed state of
 *   the history too). A CHECK_TICKET row is sent again: the API answers
 *   "ignored" for an operation already done, and the module's ticket would
 *   be read with the module's cron only.
 * - PARTIAL_REFUND and its check rows (the module spells the constant's
 *   value ACTION_CHECK_TICKET_PARTIAL_REFUND; CHECK_TICKET_PARTIAL_REFUND is
 *   accepted too): queueCreditSlip() of the order's slips made since the
 *   task was first saved (the module re-sends them all; a slip before the
 *   task was sent by an earlier task), or the latest slip when no date fits.
 * - UPLOAD_INVOICE, CHECK_TICKET_UPLOAD_INVOICE: queueInvoices() of the
 *   order (one update carrying every invoice PDF of the order).
 *
 * A task row is deleted once its updates are durable in the extension's
 * queue (so that the module's cron, were it ever back, would not send them
 * again, and a second run adds nothing); also when its order is not a
 * Shopping Feed order any more (dropped_not_shoppingfeed), or when nothing
 * is left to send (dropped_nothing_to_send: no listed state, no slip, no
 * invoice; the module deletes such tasks too). A row that could not be
 * queued (sync disabled for its shop, an error) is kept for a later run
 * (kept). Unknown actions are left alone (unknown). Refund and invoice
 * tasks stay where they are while the loaded extension has no class for
 * their field (held): the takeover holds such updates there too
 * (ShoppingfeedOrderSyncTakeover::hold()), and they move once it has one.
 *
 * Returns counts: the module's action => rows migrated, and
 * dropped_not_shoppingfeed, dropped_nothing_to_send, kept, unknown, held.
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

require_once __DIR__ . '/ShoppingfeedOrderSyncTakeover.php';

class ShoppingfeedOrderSyncTaskOrderMigration
{
    /** The module's task actions, by what they become. */
    const STATUS_ACTIONS = ['SYNC_STATUS', 'CHECK_TICKET_SYNC_STATUS'];
    const REFUND_ACTIONS = ['PARTIAL_REFUND', 'ACTION_CHECK_TICKET_PARTIAL_REFUND', 'CHECK_TICKET_PARTIAL_REFUND'];
    const INVOICE_ACTIONS = ['UPLOAD_INVOICE', 'CHECK_TICKET_UPLOAD_INVOICE'];
    /** Task rows read per query. */
    const CHUNK = 500;
    /** Seconds a credit slip may predate its task (both are written in the same request). */
    const SLIP_SLACK = 120;

    /** @var ShoppingfeedOrderSyncTakeover */
    private $takeover;

    public function __construct(?ShoppingfeedOrderSyncTakeover $takeover = null)
    {
        $this->takeover = $takeover ?: new ShoppingfeedOrderSyncTakeover();
    }

    public function run(): array
    {
        $counts = ['dropped_not_shoppingfeed' => 0, 'dropped_nothing_to_send' => 0, 'kept' => 0, 'unknown' => 0, 'held' => 0];
        $db = Db::getInstance();
        $table = '`' . _DB_PREFIX_ . 'shoppingfeed_task_order`';
        $after = 0;
        do {
            $rows = $db->executeS('SELECT * FROM ' . $table . ' WHERE `id_shoppingfeed_task_order` > ' . $after
                . ' ORDER BY `id_shoppingfeed_task_order` ASC LIMIT ' . self::CHUNK);
            $rows = is_array($rows) ? $rows : [];
            foreach ($rows as $row) {
                $after = (int) $row['id_shoppingfeed_task_order'];
                $result = $this->migrate($row);
                if ($result === 'migrated') {
                    $counts[$row['action']] = (isset($counts[$row['action']]) ? $counts[$row['action']] : 0) + 1;
                } else {
                    $counts[$result]++;
                }
                if (!in_array($result, ['kept', 'unknown', 'held'], true)) {
                    $db->execute('DELETE FROM ' . $table . ' WHERE `id_shoppingfeed_task_order` = ' . $after);
                }
            }
        } while (count($rows) === self::CHUNK);

        return $counts;
    }

    /** @return string migrated, dropped_not_shoppingfeed, dropped_nothing_to_send, kept, unknown or held */
    private function migrate(array $task): string
    {
        $idOrder = (int) $task['id_order'];
        $action = (string) $task['action'];
        if (!in_array($action, array_merge(self::STATUS_ACTIONS, self::REFUND_ACTIONS, self::INVOICE_ACTIONS), true)) {
            return 'unknown';
        }
        $db = Db::getInstance();
        if (!$db->getValue('SELECT 1 FROM `' . _DB_PREFIX_ . 'shoppingfeed_order` so JOIN `' . _DB_PREFIX_ . 'orders` o'
            . ' ON o.`id_order` = so.`id_order` WHERE so.`id_order` = ' . $idOrder)) {
            return 'dropped_not_shoppingfeed';
        }
        if (in_array($action, self::STATUS_ACTIONS, true)) {
            $state = $this->stateToSend($idOrder);
            if ($state === 0) {
                return 'dropped_nothing_to_send';
            }

            return $this->result([$this->outcome($this->takeover->queueStatus($idOrder, $state))]);
        }
        $field = in_array($action, self::REFUND_ACTIONS, true) ? ShoppingfeedOrderSyncTakeover::ACTION_REFUND
            : (in_array($action, self::INVOICE_ACTIONS, true) ? ShoppingfeedOrderSyncTakeover::ACTION_INVOICE : null);
        if ($field !== null && !ShoppingfeedOrderSyncTakeover::canSend($field)) {
            return 'held'; // for an extension with the field's class (ShoppingfeedOrderSyncTakeover::hold())
        }
        if (in_array($action, self::REFUND_ACTIONS, true)) {
            $slips = $this->slipsOf($idOrder, (string) $task['date_add']);
            $results = [];
            foreach ($slips as $idSlip) {
                $results[] = $this->outcome($this->takeover->queueCreditSlip($idOrder, $idSlip));
            }

            return $this->result($results);
        }
        return $this->result([$this->outcome($this->takeover->queueInvoices($idOrder))]);
    }

    /** The outcome of one queue call (ShoppingfeedOrderSyncTakeover's constants). */
    private function outcome(bool $ok): string
    {
        return $ok ? ShoppingfeedOrderSyncTakeover::QUEUED : $this->takeover->getLastOutcome();
    }

    /**
     * migrated when every update was queued (or had nothing to send) and one
     * at least was queued; kept when one could not be queued (sync disabled,
     * an error): the task stays for a later run.
     */
    private function result(array $outcomes): string
    {
        $queued = false;
        foreach ($outcomes as $outcome) {
            if ($outcome === ShoppingfeedOrderSyncTakeover::QUEUED) {
                $queued = true;
            } elseif ($outcome === ShoppingfeedOrderSyncTakeover::NOT_SHOPPINGFEED) {
                return 'dropped_not_shoppingfeed';
            } elseif ($outcome !== ShoppingfeedOrderSyncTakeover::NOTHING_TO_SEND && $outcome !== ShoppingfeedOrderSyncTakeover::NOT_LISTED) {
                return 'kept';
            }
        }

        return $queued ? 'migrated' : 'dropped_nothing_to_send';
    }

    /** The current state when listed, else the latest listed state of the history; 0 when none. */
    private function stateToSend(int $idOrder): int
    {
        $db = Db::getInstance();
        $order = $db->getRow('SELECT `id_shop`, `current_state` FROM `' . _DB_PREFIX_ . 'orders` WHERE `id_order` = ' . $idOrder);
        if (!$order) {
            return 0;
        }
        $listed = $this->takeover->listedStates((int) $order['id_shop']);
        if (in_array((int) $order['current_state'], $listed, true)) {
            return (int) $order['current_state'];
        }
        $history = $db->executeS('SELECT `id_order_state` FROM `' . _DB_PREFIX_ . 'order_history` WHERE `id_order` = ' . $idOrder
            . ' ORDER BY `id_order_history` DESC');
        foreach (is_array($history) ? $history : [] as $row) {
            if (in_array((int) $row['id_order_state'], $listed, true)) {
                return (int) $row['id_order_state'];
            }
        }

        return 0;
    }

    /** The order's credit slips made since the task was first saved, else its latest slip. */
    private function slipsOf(int $idOrder, string $taskDate): array
    {
        $rows = Db::getInstance()->executeS('SELECT `id_order_slip`, `date_add` FROM `' . _DB_PREFIX_ . 'order_slip`'
            . ' WHERE `id_order` = ' . $idOrder . ' ORDER BY `id_order_slip`');
        $rows = is_array($rows) ? $rows : [];
        if (!$rows) {
            return [];
        }
        $since = $taskDate !== '' ? strtotime($taskDate) : false;
        $ids = [];
        if ($since !== false) {
            foreach ($rows as $row) {
                $made = strtotime((string) $row['date_add']);
                if ($made !== false && $made >= $since - self::SLIP_SLACK) {
                    $ids[] = (int) $row['id_order_slip'];
                }
            }
        }
        if (!$ids) {
            $last = end($rows);
            $ids[] = (int) $last['id_order_slip'];
        }

        return $ids;
    }
}
