<?php
/**
 * Loads the PrestaShop stand-ins (doubles/load.php), connects to the test MariaDB
 * (SHOPPINGFEED_TEST_MYSQL_URL = mysql://user:pass@host:port/db, optional
 * SHOPPINGFEED_TEST_MYSQL_SOCKET), creates schema.sql under a fresh random
 * prefix (ps<hex>_), and declares ShopFixture. dropTestTables() removes that
 * prefix's tables (registered at shutdown unless SHOPPINGFEED_TEST_KEEP_TABLES).
 * shoppingfeed_test_db_params() gives the connection (for a ShopRoot's
 * config.inc.php: child processes use the same database and prefix).
 * Used by selftest.php and by support/phpunit-bootstrap.php.
 */
if (!defined('_PS_VERSION_')) {
    define('_PS_VERSION_', '8.1.7'); // module files refuse to load outside PrestaShop
}
require_once __DIR__ . '/doubles/load.php';
require_once __DIR__ . '/ShopFixture.php';

/** @return array{dsn: string, user: string, password: string, prefix: string, host: string, port: int, name: string, socket: string} */
function shoppingfeed_test_db_params(?array $set = null)
{
    static $params;
    if ($set !== null) {
        $params = $set;
    }
    if ($params === null) {
        throw new RuntimeException('shoppingfeed_test_connect() was not called');
    }

    return $params;
}

function shoppingfeed_test_connect()
{
    $url = getenv('SHOPPINGFEED_TEST_MYSQL_URL');
    if (!$url) {
        throw new RuntimeException('SHOPPINGFEED_TEST_MYSQL_URL is not set (source the env file of scripts/mariadb.sh)');
    }
    $u = parse_url($url);
    if (!$u || ($u['scheme'] ?? '') !== 'mysql' || empty($u['path'])) {
        throw new RuntimeException('SHOPPINGFEED_TEST_MYSQL_URL must look like mysql://user:pass@host:port/db');
    }
    $db = ltrim($u['path'], '/');
    $socket = getenv('SHOPPINGFEED_TEST_MYSQL_SOCKET');
    $dsn = $socket ? "mysql:unix_socket=$socket;dbname=$db;charset=utf8mb4"
        : 'mysql:host=' . ($u['host'] ?? '127.0.0.1') . ';port=' . ($u['port'] ?? 3306) . ";dbname=$db;charset=utf8mb4";
    $prefix = 'ps' . bin2hex(random_bytes(4)) . '_';
    $conn = Db::connect($dsn, urldecode($u['user'] ?? ''), urldecode($u['pass'] ?? ''), $prefix);
    shoppingfeed_test_db_params(['dsn' => $dsn, 'user' => urldecode($u['user'] ?? ''), 'password' => urldecode($u['pass'] ?? ''),
        'prefix' => $prefix, 'host' => (string) ($u['host'] ?? '127.0.0.1'), 'port' => (int) ($u['port'] ?? 3306), 'name' => $db,
        'socket' => (string) $socket]);
    $sql = str_replace('PREFIX_', $prefix, file_get_contents(__DIR__ . '/schema.sql'));
    $sql = preg_replace('/^\s*--.*$/m', '', $sql);
    foreach (array_filter(array_map('trim', explode(';', $sql))) as $stmt) {
        $conn->execute($stmt);
    }

    return $conn;
}

function shoppingfeed_test_drop_tables()
{
    $db = Db::getInstance();
    $like = str_replace('_', '\\_', $db->getPrefix()) . '%';
    foreach ($db->executeS("SHOW TABLES LIKE '" . $like . "'") as $row) {
        $db->execute('DROP TABLE IF EXISTS `' . reset($row) . '`');
    }
}

shoppingfeed_test_connect();
if (!getenv('SHOPPINGFEED_TEST_KEEP_TABLES')) {
    register_shutdown_function('shoppingfeed_test_drop_tables');
}
