<?php
/**
 * PHPUnit bootstrap of the reliability suite (run it with tests/reliability/run.sh).
 *
 * - checks that the shoppingfeed_sync extension is loaded;
 * - reuses the PHP suite's helpers (tests/php/support/TestEnv.php: paths,
 *   child processes; Sandbox.php: the sandbox process and its control API);
 * - starts ONE sandbox process (sf-sandbox --port 0) for the run; each test
 *   resets it and gets its own queue (TestEnv::newQueueDatabase(): a SQLite
 *   file, or with SHOPPINGFEED_TEST_STORE=mysql a table prefix of its own in
 *   the server of SHOPPINGFEED_TEST_MYSQL_URL);
 * - no PrestaShop double is loaded in this process: settings come from the
 *   conveyor only. Child processes that run the cron use the real CLI
 *   (php/tools/bin/sync-orders.php and php/tools/lib/standalone.php).
 */

$root = dirname(__DIR__, 2);

if (!extension_loaded('shoppingfeed_sync')) {
    fwrite(STDERR, "\nThe PHP extension shoppingfeed_sync is not loaded: run tests/reliability/run.sh\n");
    exit(1);
}

require_once $root . '/tests/php/support/TestEnv.php';
require_once $root . '/tests/php/support/Queue.php';
if (($problem = TestEnv::storeProblem()) !== null) {
    fwrite(STDERR, "\n$problem\n");
    exit(1);
}
require_once $root . '/tests/php/support/Sandbox.php';
require_once __DIR__ . '/support/Size.php';
require_once __DIR__ . '/support/Figures.php';
require_once __DIR__ . '/support/Proc.php';
require_once __DIR__ . '/support/MariaDb.php';
require_once __DIR__ . '/support/FpmServer.php';
require_once $root . '/tests/php/support/ShopFixtures.php';
require_once __DIR__ . '/support/ReliabilityTestCase.php';

TestEnv::$root = $root;
TestEnv::$extension = getenv('SHOPPINGFEED_SYNC_EXT') ?: $root . '/target/release/libshoppingfeed_sync.so';
TestEnv::$tmp = sys_get_temp_dir() . '/shoppingfeed-sync-reliability-' . getmypid() . '-' . bin2hex(random_bytes(3));
mkdir(TestEnv::$tmp, 0700, true);

try {
    Sandbox::start(getenv('SHOPPINGFEED_SANDBOX_BIN') ?: $root . '/target/release/sf-sandbox', TestEnv::$tmp);
} catch (RuntimeException $e) {
    fwrite(STDERR, "\n" . $e->getMessage() . "\n");
    TestEnv::removeTree(TestEnv::$tmp);
    exit(1);
}
ini_set('shoppingfeed_sync.api_url', Sandbox::url());

fwrite(STDERR, sprintf("reliability suite: size %s, store %s, sandbox %s, figures %s\n", Size::name(), TestEnv::store(), Sandbox::url(), Figures::file() ?? '(not recorded)'));

register_shutdown_function(static function () {
    Sandbox::stop();
    TestEnv::dropQueueTables();
    if (!getenv('SHOPPINGFEED_KEEP_TMP')) {
        TestEnv::removeTree(TestEnv::$tmp);
    }
});
