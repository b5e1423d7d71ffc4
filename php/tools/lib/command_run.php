<?php
/**
 * sync-orders.php run (the default command): the order-sync cron, the same
 * controller as the module's syncOrderPostImport front controller, with the
 * stand-ins of standalone.php.
 *
 * On a terminal it shows its progress on stderr (rows sent, tickets read,
 * requests of the last chain) and ends with the summary on stdout; off a
 * terminal (crontab) it prints only the summary; with -q nothing but errors.
 */

function sync_orders_command_run(): array
{
    return [
        'summary' => 'run the cron once: check tickets, then send due updates (the default command)',
        'valued' => ['shop', 'api-url', 'timeout-ms', 'token', 'store-id', 'time-budget', 'set', 'config', 'lock-dir'],
        'flags' => ['no-lock', 'progress', 'no-progress'],
        'usage' => <<<'TXT'
Usage: sync-orders.php [run] [options]

Runs the order-sync cron once: per shop, reads the tickets of the updates
sent earlier, then sends the due updates (100 orders a request, 10 requests
in flight), until nothing is due or the time budget is spent.

  --shop=ID           a shop to process (repeatable; default 1)
  --api-url=URL       Shopping Feed API base URL (INI shoppingfeed_sync.api_url)
  --timeout-ms=MS     one HTTP request's time limit (INI shoppingfeed_sync.timeout_ms)
  --token=TOKEN       API token (prefer the environment variable SHOPPINGFEED_AUTH_TOKEN:
                      it then stays out of `ps`); never printed
  --store-id=ID       Shopping Feed store id (or SHOPPINGFEED_STORE_ID in the environment)
  --time-budget=SEC   seconds this run may spend (default 50)
  --set NAME=VALUE    a setting, e.g. SHOPPINGFEED_SHIPPED_ORDERS=[4] (repeatable)
  --config=FILE       a JSON file of settings: {"NAME": value, ..., "shops": {"2": {"NAME": value}}}
  --no-lock           run without the process lock (several runners on one queue are safe)
  --lock-dir=DIR      where the process lock lives (default: the system's temp dir)
  --progress          show progress on stderr even when it is not a terminal
  --no-progress       never show progress
%COMMON%
Output: on a terminal, progress lines on stderr while it runs (rows sent,
tickets read, the requests of the last chain), then the summary on stdout:
one line per shop and one per order that failed in this run. Off a
terminal (crontab), only the summary. With --json, the run's summary as
JSON. With -q, nothing (a shop's error still goes to stderr).

%EXIT%
TXT,
        'handler' => 'sync_orders_run',
    ];
}

/**
 * Draws the progress of a run on stderr: on a terminal one line rewritten in
 * place (at most ten times a second), elsewhere (--progress) one line a
 * second, so that a log stays readable.
 */
final class SyncOrdersProgress
{
    /** @var bool */
    private $tty;
    /** @var float */
    private $started;
    /** @var float */
    private $lastDraw = 0.0;
    /** @var string */
    private $lastLine = '';
    /** @var array<string, int> */
    private $totals = ['sent' => 0, 'tickets' => 0, 'succeeded' => 0, 'pending' => 0, 'failed' => 0, 'errors' => 0, 'chains' => 0];
    /** @var string */
    private $last = '';

    public function __construct(bool $tty)
    {
        $this->tty = $tty;
        $this->started = microtime(true);
    }

    /** The controller's progress event: one chain run finished. */
    public function chain(array $event): void
    {
        $this->totals['chains']++;
        $this->totals['sent'] += (int) ($event['sent'] ?? 0);
        $this->totals['tickets'] += $event['chain'] === 'check' ? (int) ($event['rows'] ?? 0) : 0;
        foreach (['succeeded', 'pending', 'failed', 'errors'] as $key) {
            $this->totals[$key] += (int) ($event[$key] ?? 0);
        }
        $requests = (int) ($event['requests'] ?? 0);
        $this->last = sprintf(
            'shop %d %s %s: %d rows in %d request%s (%d in flight at most)',
            (int) $event['id_shop'],
            (string) $event['action'],
            $event['chain'] === 'check' ? 'tickets' : 'send',
            (int) ($event['rows'] ?? 0),
            $requests,
            $requests === 1 ? '' : 's',
            (int) ($event['in_flight'] ?? 0)
        );
        $this->draw(false);
    }

    /** The last line, and the end of the in-place line on a terminal. */
    public function finish(): void
    {
        if ($this->totals['chains'] > 0) {
            $this->draw(true);
            if ($this->tty) {
                fwrite(STDERR, "\n");
            }
        }
    }

    private function draw(bool $force): void
    {
        $now = microtime(true);
        if (!$force && $now - $this->lastDraw < ($this->tty ? 0.1 : 1.0)) {
            return;
        }
        $this->lastDraw = $now;
        $line = sprintf(
            '[%5.1fs] sent %d, tickets read %d, done %d, retry later %d, failed %d, errors %d; last: %s',
            $now - $this->started,
            $this->totals['sent'],
            $this->totals['tickets'],
            $this->totals['succeeded'],
            $this->totals['pending'],
            $this->totals['failed'],
            $this->totals['errors'],
            $this->last
        );
        if ($line === $this->lastLine) {
            return;
        }
        $this->lastLine = $line;
        fwrite(STDERR, sync_orders_redact($this->tty ? "\r\033[K" . $line : $line . "\n"));
    }
}

function sync_orders_run(array $opts, array $positional): int
{
    require_once __DIR__ . '/standalone.php';
    require_once dirname(__DIR__, 2) . '/module/controllers/front/syncOrderPostImport.php';

    foreach (['api-url' => 'shoppingfeed_sync.api_url', 'timeout-ms' => 'shoppingfeed_sync.timeout_ms'] as $opt => $ini) {
        $value = sync_orders_last($opts, $opt);
        if ($value !== null && ini_set($ini, $value) === false) {
            sync_orders_error($ini . ' refused the value given with --' . $opt);

            return SYNC_EXIT_CONFIG;
        }
    }

    [$shops, $error] = sync_orders_shops($opts);
    if ($error !== null) {
        sync_orders_error($error);

        return SYNC_EXIT_USAGE;
    }
    if (!$shops) {
        $shops = [1];
    }
    $budget = sync_orders_last($opts, 'time-budget');
    if ($budget !== null && (!is_numeric($budget) || (float) $budget < 0)) {
        sync_orders_error('--time-budget must be a number of seconds');

        return SYNC_EXIT_USAGE;
    }

    // Settings: the cron's switch on by default, then --config, then --set.
    Configuration::set('SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED', '1');
    $config = sync_orders_last($opts, 'config');
    if ($config !== null) {
        $decoded = is_file($config) ? json_decode((string) file_get_contents($config), true) : null;
        if (!is_array($decoded)) {
            sync_orders_error('--config must name a JSON file holding an object: ' . $config);

            return SYNC_EXIT_USAGE;
        }
        foreach ($decoded as $name => $value) {
            if ($name === 'shops' && is_array($value)) {
                foreach ($value as $idShop => $settings) {
                    foreach ((array) $settings as $shopName => $shopValue) {
                        Configuration::set((string) $shopName, $shopValue, (int) $idShop);
                    }
                }
            } else {
                Configuration::set((string) $name, $value);
            }
        }
    }
    foreach ($opts['set'] ?? [] as $pair) {
        if (!preg_match('/^([A-Z][A-Z0-9_]*)=(.*)$/s', $pair, $m)) {
            sync_orders_error('--set takes NAME=VALUE, got ' . $pair);

            return SYNC_EXIT_USAGE;
        }
        Configuration::set($m[1], $m[2]);
    }
    $token = sync_orders_last($opts, 'token');
    if ($token === null || $token === '') {
        $token = getenv('SHOPPINGFEED_AUTH_TOKEN') ?: null;
    }
    if ($token !== null) {
        Configuration::set('SHOPPINGFEED_AUTH_TOKEN', $token);
    }
    $storeId = sync_orders_last($opts, 'store-id') ?? (getenv('SHOPPINGFEED_STORE_ID') ?: null);
    if ($storeId !== null) {
        Configuration::set('SHOPPINGFEED_STORE_ID', $storeId);
    }
    // A token set per shop by --config is a secret too.
    foreach ($shops as $idShop) {
        $shopToken = Configuration::get('SHOPPINGFEED_AUTH_TOKEN', null, null, $idShop);
        sync_orders_add_secret(is_string($shopToken) ? $shopToken : null);
    }

    $lockDir = sync_orders_last($opts, 'lock-dir');
    if ($lockDir !== null) {
        CronController::$lockDir = $lockDir;
    }

    $quiet = isset($opts['quiet']);
    $json = isset($opts['json']);
    $showProgress = !$quiet && !isset($opts['no-progress'])
        && (isset($opts['progress']) || (function_exists('stream_isatty') && stream_isatty(STDERR)));
    $progress = $showProgress ? new SyncOrdersProgress(function_exists('stream_isatty') && stream_isatty(STDERR)) : null;

    $controller = new ShoppingfeedSyncOrderPostImportModuleFrontController();
    // This command prints its own summary and errors: the controller's run
    // log (the module's process log in PrestaShop) would only repeat them
    // on stderr, which -q and crontab mail must keep quiet.
    $controller->setRunLog(new ShoppingfeedOrderSyncRunLog(ShoppingfeedOrderSyncRunLog::TARGET_NONE));
    if ($progress !== null) {
        $controller->setProgressListener([$progress, 'chain']);
    }
    $data = ['shops' => $shops];
    if ($budget !== null) {
        $data['time_budget'] = (float) $budget;
    }
    try {
        $result = $controller->runCron($data, !isset($opts['no-lock']));
    } catch (ShoppingfeedCronLockedException $e) {
        sync_orders_error('locked: ' . $e->getMessage());

        return SYNC_EXIT_LOCKED;
    } catch (ShoppingfeedSyncException $e) {
        sync_orders_error(sync_orders_failure($e));

        return SYNC_EXIT_CONFIG;
    } finally {
        if ($progress !== null) {
            $progress->finish();
        }
    }

    if ($json) {
        sync_orders_print_json($result);
    } elseif (!$quiet) {
        sync_orders_print(sync_orders_run_summary($result));
    }
    foreach ($result['summary'] as $shop) {
        if ($shop['status'] === 'error') {
            if ($quiet) {
                sync_orders_error(sprintf('shop %d: %s', $shop['id_shop'], (string) $shop['message']));
            }

            return SYNC_EXIT_ATTENTION;
        }
    }

    return SYNC_EXIT_OK;
}

/** The human summary of a run: one line per shop, one per order that failed in it. */
function sync_orders_run_summary(array $result): string
{
    $out = '';
    foreach ($result['summary'] as $shop) {
        $out .= sprintf(
            "shop %d: %s; sent %d, tickets checked %d, succeeded %d, retry later %d, failed %d, errors %d (%d chain runs)%s\n",
            $shop['id_shop'],
            $shop['status'],
            $shop['sent'],
            $shop['checked'],
            $shop['succeeded'],
            $shop['pending'],
            $shop['failed'],
            $shop['errors'],
            $shop['iterations'],
            $shop['message'] !== null ? ' - ' . $shop['message'] : ''
        );
    }
    foreach ($result['failed_orders'] as $failed) {
        $out .= sprintf("  failed: order %d (shop %d) %s: %s\n", $failed['id_order'], $failed['id_shop'], (string) $failed['operation'], (string) $failed['last_error']);
    }
    $out .= sprintf("run: %.1f s%s\n", $result['duration_ms'] / 1000, $result['out_of_time'] ? ', stopped by the time budget (the rest waits for the next run)' : '');

    return $out;
}
