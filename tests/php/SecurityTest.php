<?php

/**
 * The API token never shows: not in exception messages, not in the
 * conveyor's report, not in phpinfo(), not in the queue's SQLite files.
 */
final class SecurityTest extends SyncTestCase
{
    public function testTokenIsNeverInExceptionMessages(): void
    {
        $secret = 'tok-' . bin2hex(random_bytes(12));
        // One row per shop, so that each case below has a row of its own to claim.
        for ($shop = 1; $shop <= 5; $shop++) {
            $this->save($shop, $this->snapshot(100 + $shop, self::CANCELLED), ['id_shop' => $shop]);
        }
        $cases = [
            'rejected by the API' => [1, ['token' => $secret], null],
            'bad store id' => [2, ['token' => $secret, 'shoppingfeed_store_id' => 'x'], null],
            'bad action' => [3, ['token' => $secret, 'order_action' => 'bad action'], null],
            'bad setting' => [4, ['token' => $secret, 'settings' => ['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => 'many']], null],
            'bad API URL' => [5, ['token' => $secret], 'http://api.example.com'],
        ];
        $messages = [];
        foreach ($cases as $what => [$shop, $extra, $url]) {
            if ($url !== null) {
                ini_set('shoppingfeed_sync.api_url', $url);
            }
            try {
                $this->send(['id_shop' => $shop] + $extra);
            } catch (ShoppingfeedSyncException $e) {
                $messages[$what] = (string) $e;
            } finally {
                ini_set('shoppingfeed_sync.api_url', Sandbox::url());
            }
        }
        $this->assertArrayHasKey('rejected by the API', $messages, 'a 403 throws');
        $this->assertGreaterThanOrEqual(4, count($messages), 'the calls above throw: ' . implode(', ', array_keys($messages)));
        foreach ($messages as $what => $message) {
            $this->assertStringNotContainsString($secret, $message, $what);
        }
        // The token was really sent (the 403 came from it).
        $this->assertFalse(Sandbox::orderPosts()[0]['auth_ok'] ?? true);
    }

    public function testTokenIsNotInTheReportsOrRows(): void
    {
        $secret = 'tok-' . bin2hex(random_bytes(12));
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        Sandbox::faults([['kind' => 'status', 'status' => 503, 'count' => 10]]);
        try {
            $run = $this->send(['token' => $secret]);
            $report = json_encode(array_intersect_key($run['conveyor'], array_flip(['sent', 'succeeded', 'pending', 'failed', 'errors', 'batch', 'operations'])));
        } catch (ShoppingfeedSyncException $e) {
            $report = $e->getMessage();
        }
        $this->assertStringNotContainsString($secret, $report);
        $this->assertStringNotContainsString($secret, json_encode(ShoppingfeedOrderSyncQueue::find(1)), 'not in last_error');
    }

    public function testTokenIsNotInPhpinfo(): void
    {
        $this->save(1, $this->snapshot(101, self::CANCELLED), [], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(1)['state'], 'the token was used');
        ob_start();
        phpinfo(INFO_MODULES);
        $info = (string) ob_get_clean();
        $this->assertStringContainsString('shoppingfeed_sync', $info, 'the extension has a phpinfo() section');
        $this->assertStringNotContainsString(self::TOKEN, $info);
    }

    public function testTokenIsNotInTheSqliteFiles(): void
    {
        Configuration::updateValue('SHOPPINGFEED_AUTH_TOKEN', self::TOKEN);
        for ($i = 1; $i <= 5; $i++) {
            $this->save($i, $this->snapshot(100 + $i, self::CANCELLED), [], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => $i % 2 ? '1' : '0']);
        }
        $this->sendAll();
        $this->checkAll();
        Sandbox::config(['reject_orders' => ['201' => 422]]);
        $this->save(6, $this->snapshot(201, self::CANCELLED));
        $this->sendAll();
        $this->assertSame(5, ShoppingfeedOrderSyncQueue::counts(1)['done']);

        $files = glob($this->dir . '/queue.sqlite*');
        $this->assertNotEmpty($files);
        foreach ($files as $file) {
            $this->assertStringNotContainsString(self::TOKEN, (string) file_get_contents($file), basename($file) . ' holds no token');
        }
    }

    public function testExceptionMessagesAreBoundedForHugeInput(): void
    {
        $conveyor = $this->conveyor(['id_order' => 1, 'order' => $this->snapshot(101, self::CANCELLED), 'order_action' => str_repeat('x', 100000)]);
        try {
            $this->actions($conveyor)->saveOrder();
            $this->fail('a 100 kB action name was accepted');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertLessThan(4096, strlen($e->getMessage()), 'the message does not echo the whole input');
            $this->assertStringContainsString('order_action', $e->getMessage());
        }
    }
}
