<?php
/**
 * The order-sync chains of every field for a list of targets, shared by our
 * cron controllers: syncOrderPostImport (one target per shop, token from
 * Configuration) and the takeover of the module's syncOrder cron (one
 * target per active shoppingfeed_token row: a shop may have several
 * stores). Kept out of the controllers so that both run exactly the same
 * loop, log and mail.
 *
 * Per target and field (classlib chains on the extension's Actions class):
 *
 *   check: getBatch, checkTickets              order_action CHECK_TICKET_<ACTION>
 *   send:  getBatch, prepareBatch, sendBatch   order_action <ACTION>
 *
 * The check chain is repeated while it settles rows (a chain that settles
 * nothing met only tickets still scheduled or running); then the send
 * chain, repeated while getBatch finds rows not seen yet in this run; both
 * within the run's time budget. The conveyor carries the target's token
 * and shoppingfeed_store_id: getBatch then claims only rows of that store
 * (or of none), so one token never sends another store's orders.
 *
 * A ShoppingfeedSyncException (the API refused the token, a configuration
 * error of that target) ends that target only; any other Throwable stops
 * the run (logged, then rethrown). Rows that reached STATE_FAILED in this
 * run are mailed to the merchant once per run. What happened goes to the
 * run log (ShoppingfeedOrderSyncRunLog: never a token or a password).
 *
 * A target: ['id_shop' => int, 'token' => string, 'shoppingfeed_store_id'
 * => int, 'id_shoppingfeed_token' => int|null], and optionally 'actions'
 * (action => ['actions_suffix' => classlib suffix]; default: fields())
 * and 'key' (its key in the summary; default its position).
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

// The module ships classlib under a namespace: make the global name used here point at it.
if (!class_exists('ActionsHandler') && class_exists('ShoppingfeedClasslib\Actions\ActionsHandler')) {
    class_alias('ShoppingfeedClasslib\Actions\ActionsHandler', 'ActionsHandler');
}

require_once __DIR__ . '/ShoppingfeedOrderSyncRunLog.php';

class ShoppingfeedOrderSyncCron
{
    /** Seconds one run may spend unless told otherwise. */
    const DEFAULT_TIME_BUDGET = 50;
    /** A guard against endless loops: chain runs per action, chain and target. */
    const MAX_CHAIN_RUNS = 10000;
    /** Error messages kept per target in the summary. */
    const MAX_MESSAGES = 20;
    const MAIL_TEMPLATE = 'order-sync-failed';

    /**
     * The fields the extension may offer: Actions class => [action, classlib suffix].
     * A field is synchronized when its class exists (refunds and invoices
     * come with later versions of the extension).
     */
    const FIELD_CLASSES = [
        'ShoppingfeedOrderSyncStatusActions' => ['SYNC_STATUS', 'Status'],
        'ShoppingfeedOrderSyncRefundActions' => ['SYNC_REFUND', 'Refund'],
        'ShoppingfeedOrderSyncInvoiceActions' => ['SYNC_INVOICE', 'Invoice'],
    ];

    /** @var ShoppingfeedOrderSyncRunLog */
    private $runLog;
    /** @var string the folder of the failure mail's templates */
    private $mailDir;
    /** @var callable|null */
    private $progressListener;
    /** @var float microtime at which the run stops starting chains */
    private $deadline = 0.0;
    /** @var bool */
    private $outOfTime = false;
    /** @var array<int, array> rows that reached STATE_FAILED in this run, by row id */
    private $failedRows = [];

    public function __construct(ShoppingfeedOrderSyncRunLog $runLog, $mailDir = null)
    {
        $this->runLog = $runLog;
        $this->mailDir = $mailDir !== null ? (string) $mailDir : dirname(__DIR__) . '/mails/';
    }

    /** @return ShoppingfeedOrderSyncRunLog */
    public function getRunLog()
    {
        return $this->runLog;
    }

    /**
     * A callable told after every chain run, with one array: id_shop,
     * action, chain ('check' or 'send'), rows, sent, succeeded, pending,
     * failed, errors, requests (HTTP requests the chain needed) and
     * in_flight (at most 10 at once); plus shoppingfeed_store_id when the
     * target reports its store. A listener that throws is dropped.
     *
     * @return $this
     */
    public function setProgressListener(callable $listener = null)
    {
        $this->progressListener = $listener;

        return $this;
    }

    /**
     * The fields the loaded extension synchronizes: action => ['actions_suffix' => suffix].
     *
     * @return array<string, array>
     */
    public static function fields()
    {
        $fields = [];
        foreach (self::FIELD_CLASSES as $class => $field) {
            if (class_exists($class)) {
                $fields[$field[0]] = ['actions_suffix' => $field[1]];
            }
        }

        return $fields;
    }

    /**
     * Runs every target; returns the run's JSON-able summary (started_at,
     * duration_ms, budget_seconds, out_of_time, totals, summary by target
     * key, failed_orders, mail_sent) and writes it to the run log.
     *
     * @param array[] $targets
     * @param float|null $budget seconds (null: DEFAULT_TIME_BUDGET)
     *
     * @return array
     */
    public function run(array $targets, $budget = null)
    {
        $started = microtime(true);
        $budget = $budget === null ? (float) self::DEFAULT_TIME_BUDGET : max(0.0, (float) $budget);
        $this->deadline = $started + $budget;
        $this->outOfTime = false;
        $this->failedRows = [];

        $log = $this->runLog->open();
        $summary = [];
        $totals = self::emptyStats();
        try {
            foreach (array_values($targets) as $i => $target) {
                $key = isset($target['key']) ? $target['key'] : $i;
                $summary[$key] = $this->processTarget($target);
                foreach (array_keys($totals) as $stat) {
                    $totals[$stat] += $summary[$key][$stat];
                }
            }
        } catch (Throwable $e) {
            // Not a target's error (those are caught per target): the run stops;
            // its log still says what was done before, and why it stopped.
            $log->error(sprintf('run stopped after %d shop(s): %s: %s', count($summary), get_class($e), $e->getMessage()));
            $log->close();

            throw $e;
        }

        $failedOrders = [];
        foreach ($this->failedRows as $row) {
            $failedOrders[] = [
                'id_shoppingfeed_order' => (int) (isset($row['id_shoppingfeed_order']) ? $row['id_shoppingfeed_order'] : 0),
                'id_order' => (int) (isset($row['id_order']) ? $row['id_order'] : 0),
                'id_shop' => (int) (isset($row['id_shop']) ? $row['id_shop'] : 0),
                'operation' => isset($row['operation']) ? (string) $row['operation'] : null,
                'last_error' => isset($row['last_error']) ? (string) $row['last_error'] : null,
            ];
        }

        $result = [
            'started_at' => gmdate('Y-m-d H:i:s', (int) $started),
            'duration_ms' => (int) round((microtime(true) - $started) * 1000),
            'budget_seconds' => $budget,
            'out_of_time' => $this->outOfTime,
            'totals' => $totals,
            'summary' => $summary,
            'failed_orders' => $failedOrders,
            'mail_sent' => $failedOrders ? $this->notifyMerchant($failedOrders) : false,
        ];
        $log->runSummary($result)->close();

        return $result;
    }

    /** One target: every field, until the API refuses it or the budget ends. */
    private function processTarget(array $target)
    {
        $idShop = isset($target['id_shop']) ? (int) $target['id_shop'] : 0;
        $token = isset($target['token']) ? $target['token'] : null;
        $storeId = isset($target['shoppingfeed_store_id']) ? $target['shoppingfeed_store_id'] : null;
        $idToken = isset($target['id_shoppingfeed_token']) ? $target['id_shoppingfeed_token'] : null;
        $result = ['id_shop' => $idShop];
        if ($idToken !== null) {
            // A target of the module's token table: several may share a shop.
            $result += ['shoppingfeed_store_id' => (int) $storeId, 'id_shoppingfeed_token' => (int) $idToken];
        }
        $result += ['status' => 'done', 'message' => null] + self::emptyStats() + ['actions' => [], 'error_messages' => []];
        $where = $idToken !== null ? sprintf('shop %d, store %d', $idShop, (int) $storeId) : sprintf('shop %d', $idShop);

        $this->runLog->addSecret(is_string($token) ? $token : null);
        if (!is_string($token) || $token === '' || !is_numeric($storeId) || (int) $storeId <= 0) {
            $result['status'] = 'skipped';
            $result['message'] = 'no Shopping Feed token or store id for this shop';

            return $result;
        }
        $actions = isset($target['actions']) && is_array($target['actions']) ? $target['actions'] : self::fields();
        if (!$actions) {
            $result['status'] = 'disabled';
            $result['message'] = 'order synchronization is disabled for this shop';

            return $result;
        }

        // 'deadline' (an extension of the conveyor): checkTickets stops reading tickets at the run's
        // time budget and releases the rows it could not read.
        $base = [
            'id_shop' => $idShop,
            'token' => $token,
            'shoppingfeed_store_id' => (int) $storeId,
            'deadline' => $this->deadline > 0 ? $this->deadline : null,
        ];
        foreach ($actions as $action => $actionData) {
            $stats = self::emptyStats();
            $messages = [];
            try {
                $this->processAction($base, $idToken !== null, $action, is_array($actionData) ? $actionData : [], $stats, $messages);
            } catch (ShoppingfeedSyncException $e) {
                $stats['errors']++;
                $messages[] = $e->getMessage();
                $result['status'] = 'error';
                $result['message'] = get_class($e) . ': ' . $e->getMessage();
                $this->runLog->error(sprintf('%s, %s: %s', $where, $action, $e->getMessage()));
            }
            $result['actions'][$action] = $stats;
            foreach (array_keys(self::emptyStats()) as $stat) {
                $result[$stat] += $stats[$stat];
            }
            foreach ($messages as $message) {
                if (count($result['error_messages']) < self::MAX_MESSAGES) {
                    $result['error_messages'][] = $message;
                }
            }
            if ($result['status'] === 'error') {
                break; // the API refused this target (a rejected token, ...): next target
            }
        }
        if ($result['status'] === 'done' && $this->outOfTime) {
            $result['status'] = 'out_of_time';
        }
        if ($idToken !== null && $result['message'] === null) {
            $result['message'] = sprintf('store %d', (int) $storeId);
        } elseif ($idToken !== null) {
            $result['message'] = sprintf('store %d: %s', (int) $storeId, $result['message']);
        }

        return $result;
    }

    /**
     * The check chain, then the send chain, of one field.
     *
     * @throws ShoppingfeedSyncException
     */
    private function processAction(array $base, $reportStore, $action, array $actionData, array &$stats, array &$messages)
    {
        $suffix = isset($actionData['actions_suffix']) ? (string) $actionData['actions_suffix'] : '';
        $checkAction = isset($actionData['check_action']) ? (string) $actionData['check_action'] : 'CHECK_TICKET_' . $action;
        $className = 'ShoppingfeedOrderSync' . $suffix;

        for ($i = 0; $i < self::MAX_CHAIN_RUNS; $i++) {
            if ($this->isOutOfTime()) {
                break;
            }
            $conveyor = $this->runChain($className, $base + ['order_action' => $checkAction], ['getBatch', 'checkTickets']);
            $batch = isset($conveyor['batch']) && is_array($conveyor['batch']) ? $conveyor['batch'] : [];
            if (!$batch) {
                $this->collect($conveyor, $stats, $messages);
                break;
            }
            $this->tellProgress($base, $reportStore, $action, 'check', $conveyor);
            $stats['iterations']++;
            $stats['checked'] += count($batch);
            if ($this->collect($conveyor, $stats, $messages) === 0) {
                break;
            }
        }

        $seen = [];
        for ($i = 0; $i < self::MAX_CHAIN_RUNS; $i++) {
            if ($this->isOutOfTime()) {
                break;
            }
            $conveyor = $this->runChain($className, $base + ['order_action' => $action], ['getBatch', 'prepareBatch', 'sendBatch']);
            $batch = isset($conveyor['batch']) && is_array($conveyor['batch']) ? $conveyor['batch'] : [];
            if (!$batch) {
                $this->collect($conveyor, $stats, $messages);
                break;
            }
            $this->tellProgress($base, $reportStore, $action, 'send', $conveyor);
            $stats['iterations']++;
            $this->collect($conveyor, $stats, $messages);
            // Rows done without a ticket: a state in no list, or an order the API reported as ignored.
            $stats['done_at_send'] += isset($conveyor['succeeded']) && is_array($conveyor['succeeded']) ? count($conveyor['succeeded']) : 0;
            if (!self::markSeen($batch, $seen)) {
                break; // the same rows again: nothing more to gain in this run
            }
        }
    }

    /** One classlib chain; returns the conveyor it ended with. */
    private function runChain($className, array $conveyor, array $actions)
    {
        $handler = new ActionsHandler();
        $handler->setConveyor($conveyor);
        call_user_func_array([$handler, 'addActions'], $actions);
        $handler->process($className);
        $out = $handler->getConveyor();

        return is_array($out) ? $out : [];
    }

    /** Adds a chain's report to the stats; returns how many rows it settled. */
    private function collect(array $conveyor, array &$stats, array &$messages)
    {
        $count = static function ($key) use ($conveyor) {
            return isset($conveyor[$key]) && is_array($conveyor[$key]) ? count($conveyor[$key]) : 0;
        };
        $stats['sent'] += $count('sent');
        $stats['succeeded'] += $count('succeeded');
        $stats['pending'] += $count('pending');
        $stats['failed'] += $count('failed');
        $stats['errors'] += $count('errors');
        if (!empty($conveyor['errors']) && is_array($conveyor['errors'])) {
            foreach ($conveyor['errors'] as $error) {
                $messages[] = (string) $error;
            }
        }
        if (!empty($conveyor['failed']) && is_array($conveyor['failed'])) {
            foreach ($conveyor['failed'] as $row) {
                if (is_array($row) && isset($row['id_shoppingfeed_order'])) {
                    $this->failedRows[(int) $row['id_shoppingfeed_order']] = $row;
                }
            }
        }

        return $count('succeeded') + $count('failed') + $count('pending');
    }

    /** Mails the merchant the rows that reached STATE_FAILED in this run (once per run). */
    private function notifyMerchant(array $failedOrders)
    {
        if (!class_exists('Mail')) {
            return false;
        }
        $to = Configuration::get('PS_SHOP_EMAIL');
        if (!is_string($to) || $to === '') {
            return false;
        }
        $idLang = (int) Configuration::get('PS_LANG_DEFAULT');
        $lines = [];
        $items = [];
        foreach ($failedOrders as $order) {
            $line = sprintf(
                'Order #%d (shop %d): %s: %s',
                $order['id_order'],
                $order['id_shop'],
                $order['operation'] !== null ? $order['operation'] : 'update',
                $order['last_error'] !== null && $order['last_error'] !== '' ? $order['last_error'] : 'no message'
            );
            $lines[] = $line;
            $items[] = '<li>' . htmlspecialchars($line, ENT_QUOTES, 'UTF-8') . '</li>';
        }
        $shopName = Configuration::get('PS_SHOP_NAME');
        $templateVars = [
            '{shop_name}' => is_string($shopName) ? $shopName : '',
            '{failed_count}' => count($failedOrders),
            '{failed_orders_txt}' => implode("\n", $lines),
            '{failed_orders_html}' => '<ul>' . implode('', $items) . '</ul>',
            '{failed_order_ids}' => implode(', ', array_column($failedOrders, 'id_order')),
        ];
        $subject = sprintf('Shopping Feed: %d order update(s) could not be synchronized', count($failedOrders));
        try {
            return (bool) Mail::Send(
                $idLang > 0 ? $idLang : 1,
                self::MAIL_TEMPLATE,
                $subject,
                $templateVars,
                $to,
                null,
                null,
                null,
                null,
                null,
                $this->mailDir
            );
        } catch (Exception $e) {
            $this->runLog->error('the failure mail could not be sent: ' . $e->getMessage());

            return false;
        }
    }

    private function isOutOfTime()
    {
        if (microtime(true) >= $this->deadline) {
            $this->outOfTime = true;
        }

        return $this->outOfTime;
    }

    /** @return bool whether the batch held a row not seen before */
    private static function markSeen(array $batch, array &$seen)
    {
        $new = false;
        foreach ($batch as $row) {
            $id = is_array($row) && isset($row['id_shoppingfeed_order']) ? (int) $row['id_shoppingfeed_order'] : 0;
            if (!isset($seen[$id])) {
                $seen[$id] = true;
                $new = true;
            }
        }

        return $new;
    }

    /**
     * Tells the progress listener what one chain did. The request counts
     * follow the extension's rules (one request per operation and 100
     * orders; tickets read by batch id; 10 requests in flight at most).
     */
    private function tellProgress(array $base, $reportStore, $action, $chain, array $conveyor)
    {
        if ($this->progressListener === null) {
            return;
        }
        $count = static function ($key) use ($conveyor) {
            return isset($conveyor[$key]) && is_array($conveyor[$key]) ? count($conveyor[$key]) : 0;
        };
        $batch = isset($conveyor['batch']) && is_array($conveyor['batch']) ? $conveyor['batch'] : [];
        $requests = 0;
        if ($chain === 'check') {
            $batches = [];
            foreach ($batch as $row) {
                if (is_array($row) && isset($row['batch_id']) && $row['batch_id'] !== '') {
                    $batches[(string) $row['batch_id']] = true;
                }
            }
            $requests = count($batches);
        } elseif (isset($conveyor['operations']) && is_array($conveyor['operations'])) {
            foreach ($conveyor['operations'] as $rows) {
                $requests += is_array($rows) ? (int) ceil(count($rows) / 100) : 0;
            }
        }
        $event = ['id_shop' => (int) $base['id_shop']];
        if ($reportStore) {
            $event['shoppingfeed_store_id'] = (int) $base['shoppingfeed_store_id'];
        }
        $event += [
            'action' => (string) $action,
            'chain' => $chain,
            'rows' => count($batch),
            'sent' => $count('sent'),
            'succeeded' => $count('succeeded'),
            'pending' => $count('pending'),
            'failed' => $count('failed'),
            'errors' => $count('errors'),
            'requests' => $requests,
            'in_flight' => min($requests, 10),
        ];
        try {
            call_user_func($this->progressListener, $event);
        } catch (Throwable $e) {
            $this->progressListener = null;
            $this->runLog->error('the progress listener failed and was dropped: ' . $e->getMessage());
        }
    }

    private static function emptyStats()
    {
        return [
            'sent' => 0,
            'succeeded' => 0,
            'failed' => 0,
            'pending' => 0,
            'errors' => 0,
            'checked' => 0,
            'done_at_send' => 0,
            'iterations' => 0,
        ];
    }
}
