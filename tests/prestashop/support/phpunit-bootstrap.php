<?php
/**
 * PHPUnit bootstrap of tests/prestashop (run it with tests/prestashop/run.sh):
 *
 * - needs the shoppingfeed_sync extension loaded in this process (run.sh
 *   passes -d extension=...) and SHOPPINGFEED_TEST_MYSQL_URL (PrestaShop's
 *   tables live in MariaDB on every pass);
 * - bootstrap.php: the PrestaShop stand-ins (doubles/), schema.sql under a
 *   random prefix ps<hex>_ for the whole run (dropped at the end), ShopFixture;
 * - tests/php/support's TestEnv (paths, the queue store of the pass:
 *   SHOPPINGFEED_TEST_STORE=sqlite|mysql, a fresh queue per test, child PHP
 *   command lines) and Sandbox (ONE sf-sandbox for the run);
 * - support/ShopRoot.php and support/PrestashopTestCase.php.
 */
$repo = dirname(__DIR__, 3);

if (!extension_loaded('shoppingfeed_sync')) {
    fwrite(STDERR, "\nThe PHP extension shoppingfeed_sync is not loaded. Run this suite with tests/prestashop/run.sh\n"
        . "(or: php -d extension=$repo/target/release/libshoppingfeed_sync.so /usr/bin/phpunit -c tests/prestashop/phpunit.xml).\n");
    exit(1);
}
if (!getenv('SHOPPINGFEED_TEST_MYSQL_URL')) {
    fwrite(STDERR, "\nSHOPPINGFEED_TEST_MYSQL_URL is not set: PrestaShop's tables need MariaDB (run.sh starts a private one).\n");
    exit(1);
}

require_once $repo . '/tests/php/support/TestEnv.php';
require_once $repo . '/tests/php/support/Queue.php';
require_once $repo . '/tests/php/support/Sandbox.php';
if (($problem = TestEnv::storeProblem()) !== null) {
    fwrite(STDERR, "\n$problem\n");
    exit(1);
}
TestEnv::$root = $repo;
TestEnv::$extension = getenv('SHOPPINGFEED_SYNC_EXT') ?: $repo . '/target/release/libshoppingfeed_sync.so';
TestEnv::$tmp = sys_get_temp_dir() . '/shoppingfeed-prestashop-tests-' . getmypid() . '-' . bin2hex(random_bytes(3));
mkdir(TestEnv::$tmp, 0700, true);

require_once dirname(__DIR__) . '/bootstrap.php';
require_once __DIR__ . '/ShopRoot.php';
require_once __DIR__ . '/PrestashopTestCase.php';

TestEnv::startSuiteSandbox(getenv('SHOPPINGFEED_SANDBOX_BIN') ?: $repo . '/target/release/sf-sandbox');
