<?php

/**
 * shoppingfeed_sync.database = prestashop: the queue in the shop's own
 * database, read from PrestaShop's _DB_* constants when the first call needs
 * it. Each case runs in a child PHP process (constants cannot be undefined):
 * the shop's config defines them as PrestaShop's config/settings.inc.php or
 * parameters.php do, for this run's MariaDB.
 */
final class PrestashopDatabaseTest extends SyncTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->onlyOn('mysql', 'the shop\'s own MySQL database');
    }

    /** The _DB_* constants of this run's server: [server, name, user, password]. */
    private function shopDb(bool $socket = false): array
    {
        $p = parse_url(TestEnv::mysqlBaseUrl());
        $server = $p['host'] . ':' . ($p['port'] ?? 3306);
        $sock = (string) getenv('SHOPPINGFEED_TEST_MYSQL_SOCKET');
        if ($socket && $sock !== '') {
            $server = 'localhost:' . $sock;
        }

        return [$server, ltrim($p['path'], '/'), rawurldecode($p['user']), rawurldecode($p['pass'] ?? '')];
    }

    /** Runs $code in a child with the given constants defined first. */
    private function child(array $constants, string $code): array
    {
        $defines = '';
        foreach ($constants as $name => $value) {
            $defines .= 'define(' . var_export($name, true) . ', ' . var_export($value, true) . ');';
        }
        $cmd = TestEnv::phpCommand(['shoppingfeed_sync.database' => 'prestashop']);
        $cmd[] = '-r';
        $cmd[] = $defines . $code;

        return TestEnv::run($cmd);
    }

    private function constants(string $prefix, bool $socket = false): array
    {
        [$server, $name, $user, $password] = $this->shopDb($socket);

        return ['_DB_SERVER_' => $server, '_DB_NAME_' => $name, '_DB_USER_' => $user, '_DB_PASSWD_' => $password, '_DB_PREFIX_' => $prefix];
    }

    public function testTheQueueIsTheTableOfTheShopsPrefix(): void
    {
        $prefix = TestEnv::newQueuePrefixStem() . '_';
        $save = '$a = new ShoppingfeedOrderSyncStatusActions(); $a->setConveyor(["id_order" => 7, "id_shop" => 1, "order_action" => "SYNC_STATUS", "order" => ["reference" => "R7", "marketplace" => "amazon", "id_order_state" => 6]]); $a->saveOrder();'
            . 'echo json_encode(ShoppingfeedOrderSyncQueue::counts(1));';
        [$code, $out, $err] = $this->child($this->constants($prefix), $save);
        $this->assertSame(0, $code, $err);
        $this->assertSame(['pending' => 1, 'sent' => 0, 'done' => 0, 'failed' => 0], json_decode($out, true));

        // The same table through a mysql:// URL with that prefix.
        ini_set('shoppingfeed_sync.database', TestEnv::mysqlUrlWith(['prefix' => $prefix]));
        $this->assertSame(1, ShoppingfeedOrderSyncQueue::counts(1)['pending']);
        $queue = new Queue(TestEnv::mysqlUrlWith(['prefix' => $prefix]));
        $this->assertSame([$prefix . 'shoppingfeed_order_sync_queue'], $queue->tables());

        // _DB_SERVER_ as localhost:/socket/path reaches the same queue.
        if ((string) getenv('SHOPPINGFEED_TEST_MYSQL_SOCKET') !== '') {
            [$code, $out, $err] = $this->child($this->constants($prefix, true), 'echo json_encode(ShoppingfeedOrderSyncQueue::counts(1));');
            $this->assertSame(0, $code, $err);
            $this->assertSame(1, json_decode($out, true)['pending']);
        }

        // phpinfo shows the word, never the password.
        [$code, $out, $err] = $this->child($this->constants($prefix), 'ShoppingfeedOrderSyncQueue::counts(1); phpinfo(INFO_MODULES);');
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString('prestashop', $out);
        $this->assertNoStoreSecret($out . $err, 'phpinfo with database = prestashop');
    }

    public function testMissingConstantsAreNamedAndNothingIsWritten(): void
    {
        $constants = $this->constants(TestEnv::newQueuePrefixStem() . '_');
        unset($constants['_DB_PASSWD_'], $constants['_DB_PREFIX_']);
        [$code, $out, $err] = $this->child($constants, 'try { ShoppingfeedOrderSyncQueue::counts(1); } catch (ShoppingfeedSyncException $e) { echo $e->getMessage(); }');
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString('_DB_PASSWD_, _DB_PREFIX_ are not defined', $out);
        $this->assertStringContainsString('shoppingfeed_sync.database = prestashop', $out);
    }

    public function testAWrongPasswordIsNamedWithoutThePassword(): void
    {
        $constants = $this->constants(TestEnv::newQueuePrefixStem() . '_');
        $constants['_DB_PASSWD_'] = 'wrong-' . $constants['_DB_PASSWD_'];
        [$code, $out, $err] = $this->child($constants, 'try { ShoppingfeedOrderSyncQueue::counts(1); } catch (ShoppingfeedSyncException $e) { echo $e->getMessage(); }');
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString('Access denied', $out);
        $this->assertStringContainsString('check the user and password', $out);
        $this->assertStringNotContainsString($constants['_DB_PASSWD_'], $out . $err);
        $this->assertNoStoreSecret($out . $err, 'a wrong password');
    }
}
