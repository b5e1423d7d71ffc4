<?php
/**
 * PHPUnit bootstrap of the PHP suite (run it with tests/php/run.sh).
 *
 * - checks that the shoppingfeed_sync extension is loaded (clear message if not);
 * - loads the PrestaShop / classlib doubles (tests/php/doubles/), written from
 *   shared/docs/prestashop-integration.md, and the module's PHP (php/);
 * - starts ONE sandbox process (sf-sandbox --port 0) for the whole run and
 *   stops it at the end (SHOPPINGFEED_SANDBOX_URL uses a running one instead);
 * - every test then gets a fresh queue (SyncTestCase::setUp sets
 *   shoppingfeed_sync.database from TestEnv::newQueueDatabase(): a SQLite
 *   file, or with SHOPPINGFEED_TEST_STORE=mysql a table prefix of its own in
 *   the server of SHOPPINGFEED_TEST_MYSQL_URL) and shoppingfeed_sync.api_url
 *   = the sandbox.
 */

$root = dirname(__DIR__, 2);

if (!extension_loaded('shoppingfeed_sync')) {
    $default = $root . '/target/release/libshoppingfeed_sync.so';
    fwrite(STDERR, "\nThe PHP extension shoppingfeed_sync is not loaded, so there is nothing to test.\n"
        . "Run the suite with tests/php/run.sh (it loads \$SHOPPINGFEED_SYNC_EXT, default $default),\n"
        . "or: php -d extension=$default /usr/bin/phpunit -c tests/php/phpunit.xml\n"
        . (is_file($default) ? '' : "($default does not exist yet: cargo build --release)\n"));
    exit(1);
}

require_once __DIR__ . '/support/TestEnv.php';
require_once __DIR__ . '/support/Queue.php';
if (($problem = TestEnv::storeProblem()) !== null) {
    fwrite(STDERR, "\n$problem\n");
    exit(1);
}

TestEnv::$root = $root;
TestEnv::$extension = getenv('SHOPPINGFEED_SYNC_EXT') ?: $root . '/target/release/libshoppingfeed_sync.so';
TestEnv::$tmp = sys_get_temp_dir() . '/shoppingfeed-sync-tests-' . getmypid() . '-' . bin2hex(random_bytes(3));
mkdir(TestEnv::$tmp, 0700, true);

// PrestaShop: module files refuse to load outside it.
define('_PS_VERSION_', '8.1.7');

foreach (['Configuration', 'Shop', 'Mail', 'PrestaShopLogger', 'Hook', 'ActionsHandler', 'CronController'] as $double) {
    require_once __DIR__ . '/doubles/' . $double . '.php';
}
require_once __DIR__ . '/support/Sandbox.php';
require_once __DIR__ . '/support/ShopFixtures.php';
require_once __DIR__ . '/support/SyncTestCase.php';
require_once $root . '/php/module/classes/ShoppingfeedOrderDataProvider.php';
require_once $root . '/php/module/classes/ShoppingfeedOrderSyncHook.php';
require_once $root . '/php/module/controllers/front/syncOrderPostImport.php';
require_once __DIR__ . '/support/ArrayOrderDataProvider.php';
require_once __DIR__ . '/fixtures/ShoppingfeedOrderSyncCarrierActions.php';

ActionsHandler::$moduleDir = $root . '/php/module/';
CronController::$lockDir = TestEnv::$tmp . '/locks';

TestEnv::startSuiteSandbox(getenv('SHOPPINGFEED_SANDBOX_BIN') ?: $root . '/target/release/sf-sandbox');
