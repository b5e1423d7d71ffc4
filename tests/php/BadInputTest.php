<?php

/**
 * Bad input: wrong types or missing keys in the conveyor, malformed action
 * names, negative ids, a malformed snapshot or setting, a non-loopback
 * http:// API URL, an unwritable database: a ShoppingfeedSyncException whose
 * message contains the key's / setting's name literally, the queue
 * untouched, and never a crash of the PHP process.
 */
final class BadInputTest extends SyncTestCase
{
    const REMOVE = '__remove__';

    protected function setUp(): void
    {
        parent::setUp();
        // A queue that is not empty, so "untouched" means something.
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        $this->save(2, $this->legacySnapshot('R-2', 'amazon', self::DELIVERED));
        $this->save(3, $this->snapshot(103, self::REFUNDED), ['id_shop' => 2]);
        Sandbox::clearLog();
    }

    private function validSaveConveyor(): array
    {
        return $this->conveyor(['id_order' => 500, 'order' => $this->snapshot(5000, self::SHIPPED)]);
    }

    private static function apply(array $conveyor, array $changes): array
    {
        foreach ($changes as $path => $value) {
            $keys = explode('.', $path);
            $ref = &$conveyor;
            $last = array_pop($keys);
            foreach ($keys as $key) {
                $ref = &$ref[$key];
            }
            if ($value === self::REMOVE) {
                unset($ref[$last]);
            } else {
                $ref[$last] = $value;
            }
            unset($ref);
        }

        return $conveyor;
    }

    /**
     * Calls $call, expects a ShoppingfeedSyncException naming $name, and the queue as it was.
     */
    private function assertRefused(callable $call, string $name, string $what): ShoppingfeedSyncException
    {
        $before = $this->queueState([1, 2, 3, 500]);
        try {
            $call();
        } catch (ShoppingfeedSyncException $e) {
            $this->assertNotInstanceOf(ShoppingfeedApiException::class, $e, "$what: bad input is not an API failure");
            $this->assertStringContainsString($name, $e->getMessage(), "$what: the message names $name");
            $this->assertNotEmpty($e->getFile(), 'a PHP exception with a file');
            $this->assertGreaterThan(0, $e->getLine(), 'and a line');
            $this->assertSame($before, $this->queueState([1, 2, 3, 500]), "$what: the queue is untouched");
            $this->assertSame([], Sandbox::apiRequests(), "$what: no API call");

            return $e;
        } catch (Throwable $e) {
            $this->fail("$what: expected ShoppingfeedSyncException naming $name, got " . get_class($e) . ': ' . $e->getMessage());
        }
        $this->fail("$what: accepted, but it should throw ShoppingfeedSyncException naming $name");
    }

    /**
     * @dataProvider badSaveOrderConveyors
     */
    public function testSaveOrderRefusesBadInput(array $changes, string $name): void
    {
        $conveyor = self::apply($this->validSaveConveyor(), $changes);
        $this->assertRefused(function () use ($conveyor) {
            $this->actions($conveyor)->saveOrder();
        }, $name, 'saveOrder with ' . json_encode($changes));
    }

    public function badSaveOrderConveyors(): array
    {
        $long = str_repeat('A', 65);

        return [
            'id_order missing' => [['id_order' => self::REMOVE], 'id_order'],
            'id_order not a number' => [['id_order' => 'abc'], 'id_order'],
            'id_order negative' => [['id_order' => -5], 'id_order'],
            'id_order negative string' => [['id_order' => '-5'], 'id_order'],
            'id_order zero' => [['id_order' => 0], 'id_order'],
            'id_order float' => [['id_order' => 1.5], 'id_order'],
            'id_order array' => [['id_order' => [12]], 'id_order'],
            'id_order bool' => [['id_order' => true], 'id_order'],
            'id_order null' => [['id_order' => null], 'id_order'],
            'id_shop missing' => [['id_shop' => self::REMOVE], 'id_shop'],
            'id_shop not a number' => [['id_shop' => 'main'], 'id_shop'],
            'id_shop negative' => [['id_shop' => -1], 'id_shop'],
            'order_action missing' => [['order_action' => self::REMOVE], 'order_action'],
            'order_action lower case' => [['order_action' => 'sync_status'], 'order_action'],
            'order_action empty' => [['order_action' => ''], 'order_action'],
            'order_action with a space' => [['order_action' => 'SYNC STATUS'], 'order_action'],
            'order_action with a dash' => [['order_action' => 'SYNC-STATUS'], 'order_action'],
            'order_action too long' => [['order_action' => $long], 'order_action'],
            'order_action not a string' => [['order_action' => 12], 'order_action'],
            'order_action CHECK_TICKET stage' => [['order_action' => 'CHECK_TICKET_SYNC_STATUS'], 'order_action'],
            'order missing' => [['order' => self::REMOVE], 'order'],
            'order not an array' => [['order' => 'shipped'], 'order'],
            'snapshot without id_order_state' => [['order.id_order_state' => self::REMOVE], 'id_order_state'],
            'snapshot id_order_state not a number' => [['order.id_order_state' => 'shipped'], 'id_order_state'],
            'snapshot id_order_state negative' => [['order.id_order_state' => -4], 'id_order_state'],
            'snapshot without identifier' => [['order.id_internal_shoppingfeed' => self::REMOVE], 'id_internal_shoppingfeed'],
            'snapshot internal id negative' => [['order.id_internal_shoppingfeed' => -3], 'id_internal_shoppingfeed'],
            'snapshot internal id not a number' => [['order.id_internal_shoppingfeed' => 'SF-1'], 'id_internal_shoppingfeed'],
            'snapshot reference without marketplace' => [['order.id_internal_shoppingfeed' => self::REMOVE, 'order.reference' => 'R-9'], 'marketplace'],
            'snapshot tracking_number array' => [['order.tracking_number' => ['1Z']], 'tracking_number'],
            'snapshot carrier array' => [['order.carrier' => ['UPS']], 'carrier'],
            'snapshot refund not an array' => [['order.refund' => 'all'], 'refund'],
            'snapshot refund products malformed' => [['order.refund' => ['shipping' => true, 'products' => [['quantity' => 'two']]]], 'refund'],
            'settings not an array' => [['settings' => 'fast'], 'settings'],
            'shipped list not JSON' => [['settings.SHOPPINGFEED_SHIPPED_ORDERS' => '4,5'], 'SHOPPINGFEED_SHIPPED_ORDERS'],
            'cancelled list truncated JSON' => [['settings.SHOPPINGFEED_CANCELLED_ORDERS' => '[6'], 'SHOPPINGFEED_CANCELLED_ORDERS'],
            'refunded list of strings' => [['settings.SHOPPINGFEED_REFUNDED_ORDERS' => '["x"]'], 'SHOPPINGFEED_REFUNDED_ORDERS'],
            'delivered list an int' => [['settings.SHOPPINGFEED_DELIVERED_ORDERS' => 5], 'SHOPPINGFEED_DELIVERED_ORDERS'],
            'shipped native list with a string' => [['settings.SHOPPINGFEED_SHIPPED_ORDERS' => [4, 'x']], 'SHOPPINGFEED_SHIPPED_ORDERS'],
            'shipped list an object' => [['settings.SHOPPINGFEED_SHIPPED_ORDERS' => '{"a": "b"}'], 'SHOPPINGFEED_SHIPPED_ORDERS'],
            'time shift not a number' => [['settings.SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => 'soon'], 'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT'],
            'time shift negative' => [['settings.SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => -1], 'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT'],
            'real-time flag not a boolean' => [['settings.SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => 'maybe'], 'SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION'],
        ];
    }

    public function testMalformedSettingFromConfigurationIsNamed(): void
    {
        Configuration::updateValue('SHOPPINGFEED_SHIPPED_ORDERS', '[4');
        $conveyor = $this->validSaveConveyor();
        unset($conveyor['settings']['SHOPPINGFEED_SHIPPED_ORDERS']);
        $this->assertRefused(function () use ($conveyor) {
            $this->actions($conveyor)->saveOrder();
        }, 'SHOPPINGFEED_SHIPPED_ORDERS', 'a malformed Configuration value');
    }

    /**
     * @dataProvider badGetBatchConveyors
     */
    public function testGetBatchRefusesBadInput(array $changes, string $name): void
    {
        $conveyor = self::apply($this->conveyor(), $changes);
        $this->assertRefused(function () use ($conveyor) {
            $this->actions($conveyor)->getBatch();
        }, $name, 'getBatch with ' . json_encode($changes));
        $run = $this->send();
        $this->assertCount(2, $run['conveyor']['batch'] ?? [], 'nothing was left claimed: a good run claims both rows');
    }

    public function badGetBatchConveyors(): array
    {
        return [
            'id_shop missing' => [['id_shop' => self::REMOVE], 'id_shop'],
            'id_shop negative' => [['id_shop' => -2], 'id_shop'],
            'id_shop array' => [['id_shop' => [1]], 'id_shop'],
            'order_action missing' => [['order_action' => self::REMOVE], 'order_action'],
            'order_action malformed' => [['order_action' => 'Sync Status!'], 'order_action'],
            'batch size not a number' => [['settings.SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => 'lots'], 'SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS'],
            'batch size negative' => [['settings.SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => '-5'], 'SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS'],
            'lease not a number' => [['settings.SHOPPINGFEED_ORDER_STATUS_LEASE_TIME' => 'forever'], 'SHOPPINGFEED_ORDER_STATUS_LEASE_TIME'],
        ];
    }

    /**
     * @dataProvider badApiConveyors
     */
    public function testSendBatchRefusesBadCredentials(array $changes, string $name): void
    {
        $actions = $this->actions($this->conveyor());
        $this->assertTrue($actions->getBatch());
        $this->assertTrue($actions->prepareBatch());
        $actions->setConveyor(self::apply($actions->getConveyor(), $changes));
        try {
            $actions->sendBatch();
            $this->fail('sendBatch accepted ' . json_encode($changes));
        } catch (ShoppingfeedSyncException $e) {
            $this->assertNotInstanceOf(ShoppingfeedApiException::class, $e);
            $this->assertStringContainsString($name, $e->getMessage());
        }
        $this->assertSame([], Sandbox::apiRequests(), 'no API call');
        foreach ([1, 2] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
            $this->assertSame(0, $row['attempts'], 'bad input costs no attempt');
            $this->assertSame(0, $row['failures']);
        }
    }

    public function badApiConveyors(): array
    {
        return [
            'token missing' => [['token' => self::REMOVE], 'token'],
            'token not a string' => [['token' => ['sandbox-token']], 'token'],
            'store id missing' => [['shoppingfeed_store_id' => self::REMOVE], 'shoppingfeed_store_id'],
            'store id not a number' => [['shoppingfeed_store_id' => 'store-42'], 'shoppingfeed_store_id'],
            'store id negative' => [['shoppingfeed_store_id' => -42], 'shoppingfeed_store_id'],
        ];
    }

    public function testCheckTicketsRefusesAMissingToken(): void
    {
        $this->sendAll();
        Sandbox::clearLog();
        $actions = $this->actions($this->conveyor(['order_action' => ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS, 'token' => null]));
        $this->assertTrue($actions->getBatch());
        try {
            $actions->checkTickets();
            $this->fail('checkTickets without a token');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertStringContainsString('token', $e->getMessage());
        }
        $this->assertSame([], Sandbox::apiRequests());
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(1)['state']);
        $this->assertSame(0, $this->rowOf(1)['attempts']);
    }

    public function testPrepareBatchRefusesAMalformedStateList(): void
    {
        $actions = $this->actions($this->conveyor());
        $this->assertTrue($actions->getBatch());
        $conveyor = $actions->getConveyor();
        $conveyor['settings']['SHOPPINGFEED_DELIVERED_ORDERS'] = 'five';
        $actions->setConveyor($conveyor);
        try {
            $actions->prepareBatch();
            $this->fail('prepareBatch accepted a malformed state list');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertStringContainsString('SHOPPINGFEED_DELIVERED_ORDERS', $e->getMessage());
        }
        foreach ([1, 2] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
            $this->assertNull($row['operation']);
            $this->assertSame(0, $row['attempts']);
        }
    }

    /**
     * @dataProvider badStaticCalls
     */
    public function testStaticMethodsRefuseBadArguments(string $call, string $pattern): void
    {
        $before = $this->queueState([1, 2, 3]);
        try {
            switch ($call) {
                case 'find(-1)': ShoppingfeedOrderSyncQueue::find(-1); break;
                case 'counts(-1)': ShoppingfeedOrderSyncQueue::counts(-1); break;
                case 'retryFailed(-1)': ShoppingfeedOrderSyncQueue::retryFailed(-1); break;
                case "retryFailed(1, ['x'])": ShoppingfeedOrderSyncQueue::retryFailed(1, ['x']); break;
                case 'retryFailed(1, [-4])': ShoppingfeedOrderSyncQueue::retryFailed(1, [-4]); break;
                case 'purge(-1)': ShoppingfeedOrderSyncQueue::purge(-1); break;
            }
            $this->fail("$call was accepted");
        } catch (ShoppingfeedSyncException $e) {
            $this->assertMatchesRegularExpression($pattern, $e->getMessage(), "$call: the message names the argument");
        }
        $this->assertSame($before, $this->queueState([1, 2, 3]));
    }

    public function badStaticCalls(): array
    {
        return [
            'find' => ['find(-1)', '/id_?order/i'],
            'counts' => ['counts(-1)', '/id_?shop/i'],
            'retryFailed shop' => ['retryFailed(-1)', '/id_?shop/i'],
            'retryFailed orders not ints' => ["retryFailed(1, ['x'])", '/id_?orders?/i'],
            'retryFailed orders negative' => ['retryFailed(1, [-4])', '/id_?orders?/i'],
            'purge' => ['purge(-1)', '/days/i'],
        ];
    }

    public function testSettleRefusesAnUnknownState(): void
    {
        $actions = $this->actions($this->conveyor());
        $this->assertTrue($actions->getBatch());
        $ids = self::ids($actions->getConveyor()['batch']);
        try {
            $actions->settle($ids, 'finished');
            $this->fail('settle accepted the state "finished"');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertMatchesRegularExpression('/state/i', $e->getMessage());
        }
        foreach ([1, 2] as $idOrder) {
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf($idOrder)['state']);
        }
    }

    public function testSettleRefusesIdsThatAreNotInts(): void
    {
        $actions = $this->actions($this->conveyor());
        $this->assertTrue($actions->getBatch());
        try {
            $actions->settle(['first'], ShoppingfeedOrderSyncQueue::STATE_DONE);
            $this->fail('settle accepted a non-integer id');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertMatchesRegularExpression('/ids?\b/i', $e->getMessage());
        }
        $this->assertSame(0, ShoppingfeedOrderSyncQueue::counts(1)['done']);
    }

    /**
     * @dataProvider badApiUrls
     */
    public function testNonLoopbackHttpApiUrlIsRefused(string $url): void
    {
        $previous = ini_get('shoppingfeed_sync.api_url');
        $accepted = ini_set('shoppingfeed_sync.api_url', $url);
        if ($accepted === false) {
            // Refused when set: equally safe, the old value stays.
            $this->assertSame($previous, ini_get('shoppingfeed_sync.api_url'));

            return;
        }
        $actions = $this->actions($this->conveyor());
        try {
            $actions->getBatch();
            $actions->prepareBatch();
            $actions->sendBatch();
            $this->fail("the API URL $url was used");
        } catch (ShoppingfeedSyncException $e) {
            $this->assertStringContainsString('shoppingfeed_sync.api_url', $e->getMessage());
        }
        $this->assertSame([], Sandbox::apiRequests());
        foreach ([1, 2] as $idOrder) {
            $this->assertSame(0, $this->rowOf($idOrder)['attempts'], 'a configuration error costs no attempt');
        }
    }

    public function badApiUrls(): array
    {
        return [
            'plain http to a public host' => ['http://api.shopping-feed.com'],
            'plain http to a private address' => ['http://10.1.2.3:8080'],
            'ftp' => ['ftp://127.0.0.1/'],
            'not a URL' => ['api.shopping-feed.com'],
        ];
    }

    public function testHttpToLocalhostIsAccepted(): void
    {
        $port = parse_url(Sandbox::url(), PHP_URL_PORT);
        ini_set('shoppingfeed_sync.api_url', 'http://localhost:' . $port);
        $run = $this->send();
        $this->assertTrue($run['ok'], 'http:// is fine for a loopback host');
        $this->assertCount(2, Sandbox::orderPosts(202), 'the cancel and the deliver request went through');
    }

    /**
     * @dataProvider unwritableDatabases
     */
    public function testUnwritableDatabaseIsAClearException(string $kind): void
    {
        $this->onlyOn('sqlite', 'SQLite file paths that cannot hold a queue (an unreachable MySQL server: DatabaseUnreachableTest)');
        switch ($kind) {
            case 'under /proc':
                $path = '/proc/shoppingfeed-sync-test/queue.sqlite';
                break;
            case 'below a file':
                file_put_contents($this->dir . '/plain-file', 'x');
                $path = $this->dir . '/plain-file/queue.sqlite';
                break;
            default:
                mkdir($this->dir . '/a-directory');
                $path = $this->dir . '/a-directory';
        }
        ini_set('shoppingfeed_sync.database', $path);
        foreach ([
            'saveOrder' => function () {
                $this->actions($this->validSaveConveyor())->saveOrder();
            },
            'find' => function () {
                ShoppingfeedOrderSyncQueue::find(1);
            },
            'getBatch' => function () {
                $this->actions($this->conveyor())->getBatch();
            },
        ] as $what => $call) {
            try {
                $call();
                $this->fail("$what used the database $path");
            } catch (ShoppingfeedSyncException $e) {
                $this->assertStringContainsString('shoppingfeed_sync.database', $e->getMessage(), "$what: names the INI setting");
            }
        }
        ini_set('shoppingfeed_sync.database', $this->database);
        $this->assertEquals(['pending' => 2, 'sent' => 0, 'done' => 0, 'failed' => 0], ShoppingfeedOrderSyncQueue::counts(1), 'the real queue is untouched');
    }

    public function unwritableDatabases(): array
    {
        return ['under /proc' => ['under /proc'], 'below a file' => ['below a file'], 'a directory' => ['a directory']];
    }
}
