<?php
/**
 * sync-orders.php: the order-sync cron from the command line (for crontab),
 * outside PrestaShop. It runs the same controller as the module's
 * syncOrderPostImport front controller, with the standalone stand-ins of
 * php/tools/lib/standalone.php (Configuration filled from the options below,
 * ActionsHandler, CronController with a lock file).
 *
 *   php -d extension=/path/to/libshoppingfeed_sync.so php/tools/bin/sync-orders.php \
 *       --shop=1 --store-id=42 --database=/var/lib/shoppingfeed_sync/queue.sqlite \
 *       --set SHOPPINGFEED_SHIPPED_ORDERS='[4]' --json
 *
 * The token is read from --token or, better (it then stays out of `ps`), from
 * the environment variable SHOPPINGFEED_AUTH_TOKEN. It is never printed.
 *
 * Exit status: 0 done, 1 a shop ended in error (see the output), 2 usage,
 * 3 another run holds the lock, 4 the extension or the configuration is wrong.
 */

const SYNC_EXIT_OK = 0;
const SYNC_EXIT_SHOP_ERROR = 1;
const SYNC_EXIT_USAGE = 2;
const SYNC_EXIT_LOCKED = 3;
const SYNC_EXIT_CONFIG = 4;

function sync_orders_usage(): string
{
    return <<<'TXT'
Usage: php -d extension=/path/to/libshoppingfeed_sync.so sync-orders.php [options]

  --shop=ID           a shop to process (repeatable; default 1)
  --api-url=URL       Shopping Feed API base URL (INI shoppingfeed_sync.api_url)
  --database=PATH     the queue's SQLite file (INI shoppingfeed_sync.database)
  --timeout-ms=MS     one HTTP request's time limit (INI shoppingfeed_sync.timeout_ms)
  --token=TOKEN       API token (prefer the environment variable SHOPPINGFEED_AUTH_TOKEN)
  --store-id=ID       Shopping Feed store id (or SHOPPINGFEED_STORE_ID in the environment)
  --time-budget=SEC   seconds this run may spend (default 50)
  --set NAME=VALUE    a setting, e.g. SHOPPINGFEED_SHIPPED_ORDERS=[4] (repeatable)
  --config=FILE       a JSON file of settings: {"NAME": value, ..., "shops": {"2": {"NAME": value}}}
  --no-lock           run without the process lock (several runners on one queue are safe)
  --lock-dir=DIR      where the process lock lives (default: the system's temp dir)
  --json              print the run's summary as JSON
  -q, --quiet         print nothing but errors
  -h, --help          this help

Exit status: 0 done, 1 a shop ended in error, 2 usage, 3 locked, 4 extension/configuration error.

TXT;
}

/**
 * @return array{0: array<string, list<string>|true>, 1: string|null} options, error
 */
function sync_orders_parse(array $argv): array
{
    $valued = ['shop', 'api-url', 'database', 'timeout-ms', 'token', 'store-id', 'time-budget', 'set', 'config', 'lock-dir'];
    $flags = ['no-lock', 'json', 'quiet', 'help'];
    $short = ['h' => 'help', 'q' => 'quiet'];
    $opts = [];
    $args = array_slice($argv, 1);
    for ($i = 0; $i < count($args); $i++) {
        $arg = $args[$i];
        if (preg_match('/^-([a-z])$/', $arg, $m) && isset($short[$m[1]])) {
            $opts[$short[$m[1]]] = true;
            continue;
        }
        if (!preg_match('/^--([a-z][a-z-]*)(?:=(.*))?$/s', $arg, $m)) {
            return [$opts, 'unexpected argument: ' . $arg];
        }
        $name = $m[1];
        if (in_array($name, $flags, true)) {
            if (isset($m[2])) {
                return [$opts, '--' . $name . ' takes no value'];
            }
            $opts[$name] = true;
        } elseif (in_array($name, $valued, true)) {
            if (isset($m[2])) {
                $value = $m[2];
            } elseif ($i + 1 < count($args)) {
                $value = $args[++$i];
            } else {
                return [$opts, '--' . $name . ' needs a value'];
            }
            $opts[$name][] = $value;
        } else {
            return [$opts, 'unknown option --' . $name];
        }
    }

    return [$opts, null];
}

function sync_orders_last(array $opts, string $name): ?string
{
    return isset($opts[$name]) && is_array($opts[$name]) ? (string) end($opts[$name]) : null;
}

function sync_orders_main(array $argv): int
{
    [$opts, $error] = sync_orders_parse($argv);
    if ($error !== null) {
        fwrite(STDERR, 'sync-orders: ' . $error . "\n\n" . sync_orders_usage());

        return SYNC_EXIT_USAGE;
    }
    if (isset($opts['help'])) {
        echo sync_orders_usage();

        return SYNC_EXIT_OK;
    }
    if (!extension_loaded('shoppingfeed_sync')) {
        fwrite(STDERR, "sync-orders: the PHP extension shoppingfeed_sync is not loaded; run php with -d extension=/path/to/libshoppingfeed_sync.so\n");

        return SYNC_EXIT_CONFIG;
    }

    require_once dirname(__DIR__) . '/lib/standalone.php';
    require_once dirname(__DIR__, 2) . '/module/controllers/front/syncOrderPostImport.php';

    foreach (['api-url' => 'shoppingfeed_sync.api_url', 'database' => 'shoppingfeed_sync.database', 'timeout-ms' => 'shoppingfeed_sync.timeout_ms'] as $opt => $ini) {
        $value = sync_orders_last($opts, $opt);
        if ($value !== null && ini_set($ini, $value) === false) {
            fwrite(STDERR, 'sync-orders: ' . $ini . ' refused the value given with --' . $opt . "\n");

            return SYNC_EXIT_CONFIG;
        }
    }

    $shops = [];
    foreach ($opts['shop'] ?? ['1'] as $shop) {
        if (!ctype_digit($shop) || (int) $shop <= 0) {
            fwrite(STDERR, 'sync-orders: --shop must be a positive shop id, got ' . $shop . "\n");

            return SYNC_EXIT_USAGE;
        }
        $shops[] = (int) $shop;
    }
    $budget = sync_orders_last($opts, 'time-budget');
    if ($budget !== null && (!is_numeric($budget) || (float) $budget < 0)) {
        fwrite(STDERR, "sync-orders: --time-budget must be a number of seconds\n");

        return SYNC_EXIT_USAGE;
    }

    // Settings: the cron's switch on by default, then --config, then --set.
    Configuration::set('SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED', '1');
    $config = sync_orders_last($opts, 'config');
    if ($config !== null) {
        $decoded = is_file($config) ? json_decode((string) file_get_contents($config), true) : null;
        if (!is_array($decoded)) {
            fwrite(STDERR, 'sync-orders: --config must name a JSON file holding an object: ' . $config . "\n");

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
            fwrite(STDERR, '--set takes NAME=VALUE, got ' . $pair . "\n");

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

    $lockDir = sync_orders_last($opts, 'lock-dir');
    if ($lockDir !== null) {
        CronController::$lockDir = $lockDir;
    }

    $controller = new ShoppingfeedSyncOrderPostImportModuleFrontController();
    $data = ['shops' => $shops];
    if ($budget !== null) {
        $data['time_budget'] = (float) $budget;
    }
    try {
        $result = $controller->runCron($data, !isset($opts['no-lock']));
    } catch (ShoppingfeedCronLockedException $e) {
        fwrite(STDERR, 'sync-orders: locked: ' . $e->getMessage() . "\n");

        return SYNC_EXIT_LOCKED;
    } catch (ShoppingfeedSyncException $e) {
        fwrite(STDERR, 'sync-orders: ' . get_class($e) . ': ' . $e->getMessage() . "\n");

        return SYNC_EXIT_CONFIG;
    }

    if (isset($opts['json'])) {
        echo json_encode($result, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
    } elseif (!isset($opts['quiet'])) {
        foreach ($result['summary'] as $shop) {
            printf(
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
            printf("  failed: order %d (shop %d) %s: %s\n", $failed['id_order'], $failed['id_shop'], (string) $failed['operation'], (string) $failed['last_error']);
        }
    }
    foreach ($result['summary'] as $shop) {
        if ($shop['status'] === 'error') {
            if (isset($opts['quiet'])) {
                fwrite(STDERR, sprintf("shop %d: %s\n", $shop['id_shop'], (string) $shop['message']));
            }

            return SYNC_EXIT_SHOP_ERROR;
        }
    }

    return SYNC_EXIT_OK;
}

exit(sync_orders_main($argv));
