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
 * The chains, the budget, the log and the mail are ShoppingfeedOrderSyncCron
 * (classes/), shared with the takeover of the module's own syncOrder cron;
 * this controller only says which shops, tokens and fields.
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
require_once dirname(__DIR__, 2) . '/classes/ShoppingfeedOrderSyncCron.php';

class ShoppingfeedSyncOrderPostImportModuleFrontController extends CronController
{
    /** Seconds one cron run may spend, unless $data['time_budget'] says otherwise. */
    const DEFAULT_TIME_BUDGET = ShoppingfeedOrderSyncCron::DEFAULT_TIME_BUDGET;
    /** A guard against endless loops: chain runs per action, chain and shop. */
    const MAX_CHAIN_RUNS = ShoppingfeedOrderSyncCron::MAX_CHAIN_RUNS;
    /** Error messages kept per shop in the summary. */
    const MAX_MESSAGES = ShoppingfeedOrderSyncCron::MAX_MESSAGES;

    const CONFIG_SYNC_ENABLED = 'SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED';
    const CONFIG_TOKEN = 'SHOPPINGFEED_AUTH_TOKEN';
    const CONFIG_STORE_ID = 'SHOPPINGFEED_STORE_ID';
    const MAIL_TEMPLATE = ShoppingfeedOrderSyncCron::MAIL_TEMPLATE;

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
     * @return array the summary of the run (ShoppingfeedOrderSyncCron::run(), keyed by shop)
     */
    protected function processCron($data)
    {
        $data = is_array($data) ? $data : [];
        $budget = null;
        if (isset($data['time_budget']) && is_numeric($data['time_budget'])) {
            $budget = max(0.0, (float) $data['time_budget']);
        }
        $targets = [];
        foreach ($this->getShopIds($data) as $idShop) {
            $targets[] = $this->getTarget($idShop);
        }
        $cron = new ShoppingfeedOrderSyncCron($this->getRunLog(), dirname(__DIR__, 2) . '/mails/');
        if ($this->progressListener !== null) {
            $cron->setProgressListener($this->progressListener);
        }

        return $cron->run($targets, $budget);
    }

    /**
     * A shop's target: its token and store from Configuration, its fields
     * from getActions() (an empty list: the shop is reported disabled).
     */
    protected function getTarget($idShop)
    {
        $token = Configuration::get(self::CONFIG_TOKEN, null, null, $idShop);
        $storeId = Configuration::get(self::CONFIG_STORE_ID, null, null, $idShop);
        $hasCredentials = is_string($token) && $token !== '' && is_numeric($storeId) && (int) $storeId > 0;

        return [
            'key' => (int) $idShop,
            'id_shop' => (int) $idShop,
            'token' => $token,
            'shoppingfeed_store_id' => $storeId,
            'id_shoppingfeed_token' => null,
            // Asked only of a shop that has credentials, as before the chains moved out.
            'actions' => $hasCredentials ? $this->getActions($idShop) : [],
        ];
    }

    /**
     * The synchronizable fields of a shop: action => ['actions_suffix' => classlib suffix].
     * Every field follows this pattern (see the seed): the status, and the
     * partial refunds and invoices when the loaded extension has their
     * classes (ShoppingfeedOrderSyncCron::fields()), in that order.
     */
    protected function getActions($idShop)
    {
        if (!Configuration::get(self::CONFIG_SYNC_ENABLED, null, null, $idShop)) {
            return [];
        }

        return [ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS => ['actions_suffix' => 'Status']]
            + ShoppingfeedOrderSyncCron::fields();
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
}
