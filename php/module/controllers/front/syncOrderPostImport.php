<?php
/**
 * The cron of the order synchronization (batch mode), as the seed describes it:
 * a classlib CronController that, for each shop, runs the Actions chains of
 * every synchronizable field:
 *
 *   check: getBatch, checkTickets              order_action CHECK_TICKET_<ACTION>
 *   send:  getBatch, prepareBatch, sendBatch   order_action <ACTION>
 *
 * The check chain runs first (tickets of updates sent earlier), repeated
 * while it settles rows; then the send chain, repeated while getBatch finds
 * due rows; both within a time budget (50 s, or $data['time_budget']).
 * A ShoppingfeedSyncException (an API refusal such as a rejected token, or a
 * configuration error of that shop) is logged and ends that shop's work; the
 * next shop is processed. Rows that reached STATE_FAILED in this run are
 * mailed to the merchant once per run (Mail::Send, template order-sync-failed).
 *
 * processCron() returns a JSON-able summary: per shop (and per action) the
 * numbers of rows sent, succeeded (done_at_send of them without a ticket:
 * a state in no list, or ignored by the API), failed, pending (retried
 * later), checked (tickets read), errors, the iterations of the chains, and
 * a status (done / skipped / disabled / error / out_of_time).
 *
 * $data keys read: 'shops' (list of shop ids, default every active shop),
 * 'time_budget' (seconds).
 *
 * What it did is also written, once per run, where the merchant looks
 * (classes/ShoppingfeedOrderSyncRunLog.php): classlib's ProcessLoggerHandler
 * (the module's "Logs & crons" page) when it is there, else PrestaShop's
 * logger, else stderr; the run's line, one per shop (sent, tickets read,
 * settled: done, retried, failed; errors), the shops' error messages and
 * the orders given up. Never a token or a password.
 *
 * A caller may follow the run (the CLI runner's progress lines):
 * setProgressListener() gets one event per chain run.
 *
 * Adding a field: register it in getActions() with its classlib suffix
 * ('Carrier' for ShoppingfeedOrderSyncCarrierActions).
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

// The module ships classlib under a namespace: make the global names used here point at it.
if (!class_exists('CronController') && class_exists('ShoppingfeedClasslib\Extensions\ProcessMonitor\Controllers\Front\CronController')) {
    class_alias('ShoppingfeedClasslib\Extensions\ProcessMonitor\Controllers\Front\CronController', 'CronController');
}
if (!class_exists('ActionsHandler') && class_exists('ShoppingfeedClasslib\Actions\ActionsHandler')) {
    class_alias('ShoppingfeedClasslib\Actions\ActionsHandler', 'ActionsHandler');
}

require_once dirname(__DIR__, 2) . '/classes/ShoppingfeedOrderSyncRunLog.php';

class ShoppingfeedSyncOrderPostImportModuleFrontController extends CronController
{
    /** Seconds one cron run may spend, unless $data['time_budget'] says otherwise. */
    const DEFAULT_TIME_BUDGET = 50;
    /** A guard against endless loops: chain runs per action, chain and shop. */
    const MAX_CHAIN_RUNS = 10000;
    /** Error messages kept per shop in the summary. */
    const MAX_MESSAGES = 20;

    const CONFIG_SYNC_ENABLED = 'SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED';
    const CONFIG_TOKEN = 'SHOPPINGFEED_AUTH_TOKEN';
    const CONFIG_STORE_ID = 'SHOPPINGFEED_STORE_ID';
    const MAIL_TEMPLATE = 'order-sync-failed';

    /** @var float microtime at which the run must stop starting chains */
    protected $deadline = 0.0;
    /** @var bool the budget ran out */
    protected $outOfTime = false;
    /** @var array<int, array> rows that reached STATE_FAILED in this run, by row id */
    protected $failedRows = [];
    /** @var ShoppingfeedOrderSyncRunLog|null where the run's summary goes (made on first use) */
    protected $runLog;
    /** @var callable|null told after every chain run (see setProgressListener()) */
    protected $progressListener;

    /**
     * Where this controller writes what it did; by default the first of
     * classlib's process logger, PrestaShop's logger and stderr.
     *
     * @return $this
     */
    public function setRunLog(ShoppingfeedOrderSyncRunLog $runLog)
    {
        $this->runLog = $runLog;

        return $this;
    }

    /** @return ShoppingfeedOrderSyncRunLog */
    public function getRunLog()
    {
        if ($this->runLog === null) {
            // classlib's CronController holds the running process's monitor:
            // the process logger then files the lines under that process.
            $process = isset($this->processMonitor) && is_object($this->processMonitor) ? $this->processMonitor : null;
            $name = isset($this->processName) && is_string($this->processName) && $this->processName !== ''
                ? $this->processName
                : ShoppingfeedOrderSyncRunLog::DEFAULT_NAME;
            $this->runLog = new ShoppingfeedOrderSyncRunLog(null, $process, $name);
        }

        return $this->runLog;
    }

    /**
     * A callable told after every chain run, with one array: id_shop,
     * action, chain ('check' or 'send'), rows (claimed by the chain), sent,
     * succeeded, pending, failed, errors (counts of that chain's report),
     * requests (HTTP requests the chain needed: one per batch of tickets
     * read, one per operation and 100 orders sent) and in_flight (how many
     * of them the extension ran at once: at most 10). The extension runs a
     * chain's requests inside one call, so these are the chain's figures,
     * told when it ends. A listener that throws is dropped.
     *
     * @return $this
     */
    public function setProgressListener(?callable $listener)
    {
        $this->progressListener = $listener;

        return $this;
    }

    /**
     * @param mixed $data
     *
     * @return array the summary of the run
     */
    protected function processCron($data)
    {
        $data = is_array($data) ? $data : [];
        $started = microtime(true);
        $budget = self::DEFAULT_TIME_BUDGET;
        if (isset($data['time_budget']) && is_numeric($data['time_budget'])) {
            $budget = max(0.0, (float) $data['time_budget']);
        }
        $this->deadline = $started + $budget;
        $this->outOfTime = false;
        $this->failedRows = [];

        $log = $this->getRunLog()->open();
        $summary = [];
        $totals = self::emptyStats();
        try {
            foreach ($this->getShopIds($data) as $idShop) {
                $summary[$idShop] = $this->processShop($idShop);
                foreach (array_keys($totals) as $key) {
                    $totals[$key] += $summary[$idShop][$key];
                }
            }
        } catch (Throwable $e) {
            // Not a shop's error (those are caught per shop): the run stops;
            // its log still says what was done before, and why it stopped.
            $log->error(sprintf('run stopped after %d shop(s): %s: %s', count($summary), get_class($e), $e->getMessage()));
            $log->close();

            throw $e;
        }

        $failedOrders = [];
        foreach ($this->failedRows as $row) {
            $failedOrders[] = [
                'id_shoppingfeed_order' => (int) ($row['id_shoppingfeed_order'] ?? 0),
                'id_order' => (int) ($row['id_order'] ?? 0),
                'id_shop' => (int) ($row['id_shop'] ?? 0),
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

    /**
     * The synchronizable fields of a shop: action => ['actions_suffix' => classlib suffix].
     * Every field follows this pattern (see the seed).
     */
    protected function getActions($idShop)
    {
        $actions = [];
        if (Configuration::get(self::CONFIG_SYNC_ENABLED, null, null, $idShop)) {
            $actions[ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS] = [
                'actions_suffix' => 'Status',
            ];
        }

        return $actions;
    }

    /**
     * @return int[] the shops to process: $data['shops'] when given, else every active shop
     */
    protected function getShopIds(array $data)
    {
        if (isset($data['shops']) && is_array($data['shops'])) {
            $ids = $data['shops'];
        } elseif (class_exists('Shop')) {
            $ids = Shop::getShops(true, null, true);
        } else {
            $ids = [1];
        }
        $out = [];
        foreach ($ids as $id) {
            if (is_numeric($id) && (int) $id > 0) {
                $out[(int) $id] = (int) $id;
            }
        }

        return array_values($out);
    }

    protected function processShop($idShop)
    {
        $result = ['id_shop' => $idShop, 'status' => 'done', 'message' => null] + self::emptyStats()
            + ['actions' => [], 'error_messages' => []];

        $token = Configuration::get(self::CONFIG_TOKEN, null, null, $idShop);
        $storeId = Configuration::get(self::CONFIG_STORE_ID, null, null, $idShop);
        $this->getRunLog()->addSecret(is_string($token) ? $token : null);
        if (!is_string($token) || $token === '' || !is_numeric($storeId) || (int) $storeId <= 0) {
            $result['status'] = 'skipped';
            $result['message'] = 'no Shopping Feed token or store id for this shop';

            return $result;
        }
        $actions = $this->getActions($idShop);
        if (!$actions) {
            $result['status'] = 'disabled';
            $result['message'] = 'order synchronization is disabled for this shop';

            return $result;
        }

        // 'deadline' (an extension of the conveyor): checkTickets stops reading tickets at the run's
        // time budget and releases the rows it could not read.
        $base = ['id_shop' => (int) $idShop, 'token' => $token, 'shoppingfeed_store_id' => (int) $storeId, 'deadline' => $this->deadline > 0 ? $this->deadline : null];
        foreach ($actions as $action => $actionData) {
            $stats = self::emptyStats();
            $messages = [];
            try {
                $this->processAction($base, $action, $actionData, $stats, $messages);
            } catch (ShoppingfeedSyncException $e) {
                $stats['errors']++;
                $messages[] = $e->getMessage();
                $result['status'] = 'error';
                $result['message'] = get_class($e) . ': ' . $e->getMessage();
                $this->log(sprintf('shop %d, %s: %s', $idShop, $action, $e->getMessage()), 3);
            }
            $result['actions'][$action] = $stats;
            foreach (array_keys(self::emptyStats()) as $key) {
                $result[$key] += $stats[$key];
            }
            foreach ($messages as $message) {
                if (count($result['error_messages']) < self::MAX_MESSAGES) {
                    $result['error_messages'][] = $message;
                }
            }
            if ($result['status'] === 'error') {
                break; // the API refused this shop (a rejected token, ...): next shop
            }
        }
        if ($result['status'] === 'done' && $this->outOfTime) {
            $result['status'] = 'out_of_time';
        }

        return $result;
    }

    /**
     * Runs the check chain, then the send chain, of one action.
     *
     * @throws ShoppingfeedSyncException
     */
    protected function processAction(array $base, $action, array $actionData, array &$stats, array &$messages)
    {
        $suffix = isset($actionData['actions_suffix']) ? (string) $actionData['actions_suffix'] : '';
        $checkAction = isset($actionData['check_action']) ? (string) $actionData['check_action'] : 'CHECK_TICKET_' . $action;
        $className = 'ShoppingfeedOrderSync' . $suffix;

        // Tickets first, repeated while it settles rows: a chain that settles
        // nothing met only tickets still scheduled/running (released at once by
        // the extension); reading them again in this run would be wasted.
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
            $this->tellProgress($base['id_shop'], $action, 'check', $conveyor);
            $stats['iterations']++;
            $stats['checked'] += count($batch);
            if ($this->collect($conveyor, $stats, $messages) === 0) {
                break;
            }
        }

        // Then new updates, repeated while getBatch finds due rows.
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
            $this->tellProgress($base['id_shop'], $action, 'send', $conveyor);
            $stats['iterations']++;
            $this->collect($conveyor, $stats, $messages);
            // Rows done without a ticket: a state in no list, or an order the API reported as ignored.
            $stats['done_at_send'] += isset($conveyor['succeeded']) && is_array($conveyor['succeeded']) ? count($conveyor['succeeded']) : 0;
            if (!$this->markSeen($batch, $seen)) {
                break; // the same rows again: nothing more to gain in this run
            }
        }
    }

    /**
     * One classlib chain; returns the conveyor it ended with.
     */
    protected function runChain($className, array $conveyor, array $actions)
    {
        $handler = new ActionsHandler();
        $handler->setConveyor($conveyor);
        call_user_func_array([$handler, 'addActions'], $actions);
        $handler->process($className);
        $out = $handler->getConveyor();

        return is_array($out) ? $out : [];
    }

    /**
     * Adds a chain's report to the stats; returns how many rows it settled
     * (succeeded, failed or put back to pending).
     */
    protected function collect(array $conveyor, array &$stats, array &$messages)
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

    /**
     * Mails the merchant the rows that reached STATE_FAILED in this run (once per run).
     */
    protected function notifyMerchant(array $failedOrders)
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
                dirname(__DIR__, 2) . '/mails/'
            );
        } catch (Exception $e) {
            $this->log('the failure mail could not be sent: ' . $e->getMessage(), 2);

            return false;
        }
    }

    protected function isOutOfTime()
    {
        if (microtime(true) >= $this->deadline) {
            $this->outOfTime = true;
        }

        return $this->outOfTime;
    }

    /** @return bool whether the batch held a row not seen before */
    private function markSeen(array $batch, array &$seen)
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

    /** A line of the run's log at once (severity as PrestaShop's: 1 information, 2 warning, 3 error). */
    protected function log($message, $severity = 1)
    {
        if ($severity >= 2) {
            $this->getRunLog()->error($message);
        } else {
            $this->getRunLog()->info($message);
        }
    }

    /**
     * Tells the progress listener what one chain did. The request counts
     * follow the extension's rules (contract: one request per operation and
     * 100 orders; tickets read by batch id; 10 requests in flight at most).
     */
    protected function tellProgress($idShop, $action, $chain, array $conveyor)
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
        try {
            call_user_func($this->progressListener, [
                'id_shop' => (int) $idShop,
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
            ]);
        } catch (Throwable $e) {
            $this->progressListener = null;
            $this->log('the progress listener failed and was dropped: ' . $e->getMessage(), 2);
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
