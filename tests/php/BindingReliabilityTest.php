<?php

/**
 * Issue 8, the binding's defects: a queue file replaced under a live
 * process (1), exit()/die()/memory exhaustion inside an override in real
 * time (2), a re-entrant saveOrder (7), queue paths that lose updates (8),
 * array keys that are not UTF-8 (10), many queues in one process (14).
 * What must be seen from outside runs in a child PHP (fixtures/binding-child.php).
 */
final class BindingReliabilityTest extends SyncTestCase
{
    private function child(string $mode, string $arg, array $ini = [], string $prefix = ''): array
    {
        $cmd = array_merge(TestEnv::phpCommand($ini), [__DIR__ . '/fixtures/binding-child.php', $mode, $arg, self::TOKEN, (string) self::STORE_ID]);
        if ($prefix !== '') {
            $cmd = array_merge(['sh', '-c', $prefix . ' && exec "$@"', 'sh'], $cmd);
        }

        return TestEnv::run($cmd, [], 120.0);
    }

    /** @return list<array{string, string}> */
    public function endings(): array
    {
        $cases = [];
        foreach (['exit', 'die', 'memory'] as $mode) {
            foreach (['getBatch', 'prepareBatch', 'sendBatch'] as $step) {
                $cases["$mode in $step"] = [$mode, $step];
            }
        }

        return $cases;
    }

    /** @dataProvider endings */
    public function testExitOrFatalErrorInARealTimeOverrideIsPhpsOwnBehaviour(string $mode, string $step): void
    {
        [$code, $out, $err] = $this->child($mode, $step, ['memory_limit' => '64M']);
        $this->assertStringContainsString("ending in $step", $out);
        $this->assertStringNotContainsString('after saveOrder', $out, 'the script ended inside the override');
        $this->assertStringNotContainsString('Segmentation', $err);
        $this->assertStringNotContainsString('panicked', $err);
        switch ($mode) {
            case 'exit':
                $this->assertSame(3, $code, "exit(3) gives status 3; stderr: $err");
                $this->assertSame('', $err);
                break;
            case 'die':
                $this->assertSame(0, $code, "stderr: $err");
                $this->assertStringContainsString("died in $step", $out);
                break;
            case 'memory':
                $this->assertSame(255, $code, "a fatal error gives status 255; stderr: $err");
                $this->assertStringContainsString('Allowed memory size', $err);
                break;
        }
        // The update was saved before the chain: it waits for the cron.
        $row = $this->rowOf(1);
        $this->assertNotSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $row['state']);
        if ($step !== 'sendBatch') {
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
            $this->assertSame([], Sandbox::orderPosts(), 'nothing was sent');
        }
    }

    public function testAReEntrantSaveOrderInRealTimeSendsOnlyTheSavedRow(): void
    {
        foreach ([60, 61, 62] as $idOrder) {
            $this->save($idOrder, $this->snapshot($idOrder * 101, self::CANCELLED)); // batch mode: due rows
        }
        ReEntrantActions::$nested = $this->conveyor(['id_order' => 63, 'order' => $this->snapshot(6363, self::CANCELLED)], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']);
        $this->save(64, $this->snapshot(6464, self::CANCELLED), [], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1'], ReEntrantActions::class);

        $this->assertTrue(ReEntrantActions::$nestedSaved, 'the override saved its update');
        $this->assertSame(['6464'], self::elementKeys(Sandbox::orderPosts()), 'only the row of the outer saveOrder was sent');
        $this->assertCount(1, Sandbox::orderPosts(), 'one HTTP attempt');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(64)['state']);
        foreach ([60, 61, 62, 63] as $idOrder) {
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf($idOrder)['state'], "order $idOrder waits for the cron");
        }
    }

    /** @return array<string, array{string}> */
    public function lossyPaths(): array
    {
        return [
            ':memory:' => [':memory:'],
            'relative' => ['queue.sqlite'],
            'dot relative' => ['./var/queue.sqlite'],
            'file: URI' => ['file:/tmp/sf-queue.sqlite?mode=memory'],
            'FILE: URI' => ['FILE:queue.sqlite'],
        ];
    }

    /** @dataProvider lossyPaths */
    public function testPathsThatWouldLoseUpdatesAreRefused(string $database): void
    {
        $this->onlyOn('sqlite', 'SQLite file paths that would lose updates (the MySQL run points the queue at a server)');
        ini_set('shoppingfeed_sync.database', $database);
        $cwd = getcwd();
        chdir($this->dir);
        try {
            $this->actions($this->conveyor(['id_order' => 70, 'order' => $this->snapshot(7070)]))->saveOrder();
            $this->fail('saveOrder accepted ' . $database);
        } catch (ShoppingfeedSyncException $e) {
            $this->assertStringContainsString('shoppingfeed_sync.database', $e->getMessage());
            $this->assertStringContainsString('absolute path', $e->getMessage(), 'says what to use instead');
        } finally {
            chdir($cwd);
        }
        $this->assertSame([], glob($this->dir . '/*queue*'), 'nothing was created');
        $this->assertFileDoesNotExist('/tmp/sf-queue.sqlite');
    }

    public function testKeysThatAreNotUtf8AreBadInputNamingTheirPlace(): void
    {
        [$code, $out, $err] = $this->child('badkeys', '');
        $this->assertSame('', $err, 'nothing printed to stderr (no panic trace)');
        $this->assertSame(0, $code, $out);
        $this->assertSame([
            'snapshot' => 'order has a key that is not valid UTF-8',
            'refund.products' => 'order.refund.products has a key that is not valid UTF-8',
            'state list' => 'setting SHOPPINGFEED_CANCELLED_ORDERS has a key that is not valid UTF-8',
            'operations' => "conveyor key 'operations' has a key that is not valid UTF-8",
            'settle' => 'settle: ids has a key that is not valid UTF-8',
            'retryFailed' => 'retryFailed: idOrders has a key that is not valid UTF-8',
        ], json_decode(trim($out), true));
    }

    /**
     * 400 SQLite files, or in mysql runs 400 table prefixes of one server
     * (400 queues: the process must neither run out of descriptors nor keep
     * a connection per queue).
     */
    public function testFourHundredQueuesInOneProcessWithUlimit256(): void
    {
        if (TestEnv::isMysql()) {
            $each = TestEnv::mysqlUrlWith(['prefix' => TestEnv::newQueuePrefixStem() . 'q{i}_']);
        } else {
            mkdir($this->dir . '/many');
            $each = $this->dir . '/many/q{i}.sqlite';
        }
        [$code, $out, $err] = $this->child('many', $each, [], 'ulimit -n 256');
        $this->assertSame(0, $code, $err);
        $this->assertSame(['ok' => 400, 'errors' => []], json_decode(trim($out), true), $err);
        $this->assertNoStoreSecret($out . $err, 'the child\'s output');
        ini_set('shoppingfeed_sync.database', str_replace('{i}', '399', $each));
        $this->assertCount(1, ShoppingfeedOrderSyncQueue::find(400));
    }

    public function testAQueueReplacedUnderALiveProcessGetsTheUpdatesWhereThePathPoints(): void
    {
        $this->onlyOn('sqlite', 'the queue file removed, moved or switched by a symlink under a live process (a MySQL queue has no file)');
        $base = $this->dir . '/replace';
        mkdir($base);
        [$code, $out, $err] = $this->child('replace', $base);
        $this->assertSame(0, $code, $err);
        $this->assertSame('', $err);
        $this->assertSame(['1' => true, '2' => true, '3' => true, '4' => true, '5' => true, '6' => true], json_decode(trim($out), true));
        // Each acknowledged save after a change is in the file its path names now
        // (the saves before it went with the file that was removed or moved).
        $expect = [
            'live/queue.sqlite' => [4],     // 2 went with the rm -rf, 3 with the mv
            'moved/queue.sqlite' => [3],
            'releases/1/queue.sqlite' => [5],
            'current/queue.sqlite' => [6],  // releases/2, where the switched link points
        ];
        foreach ($expect as $path => $orders) {
            ini_set('shoppingfeed_sync.database', "$base/$path");
            $found = [];
            foreach (range(1, 6) as $idOrder) {
                if (ShoppingfeedOrderSyncQueue::find($idOrder)) {
                    $found[] = $idOrder;
                }
            }
            $this->assertSame($orders, $found, $path);
        }
    }
}

/** An override whose getBatch() saves another update first (issue 8, defect 7). */
class ReEntrantActions extends ShoppingfeedOrderSyncStatusActions
{
    /** @var array the conveyor of the nested save */
    public static $nested = [];
    /** @var bool */
    public static $nestedSaved = false;

    public function getBatch(): bool
    {
        if (self::$nested) {
            $outer = $this->getConveyor();
            $nested = self::$nested;
            self::$nested = [];
            self::$nestedSaved = $this->setConveyor($nested)->saveOrder();
            $this->setConveyor($outer);
        }

        return parent::getBatch();
    }
}
