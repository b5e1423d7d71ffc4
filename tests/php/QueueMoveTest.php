<?php

/**
 * Moving a queue (ShoppingfeedOrderSyncQueue::importFrom): a shop switching
 * shoppingfeed_sync.database from its SQLite file to its MySQL database
 * keeps every pending, sent and failed update, and running the move twice
 * adds nothing. Runs in the mysql pass (the target is this test's MySQL
 * queue, the source a SQLite file made by the extension itself).
 */
final class QueueMoveTest extends SyncTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->onlyOn('mysql', 'moves a SQLite queue into a MySQL queue');
    }

    /** A SQLite queue with rows in every state, made through the contract. */
    private function oldQueue(): string
    {
        $old = $this->dir . '/old.sqlite';
        ini_set('shoppingfeed_sync.database', $old);
        $this->save(101, $this->legacySnapshot('A-101', 'amazon', self::SHIPPED, ['tracking_number' => 'T1']));
        $this->save(102, $this->legacySnapshot('A-102', 'amazon', self::CANCELLED));
        $this->save(103, $this->legacySnapshot('A-103', 'amazon', self::SHIPPED, ['tracking_number' => 'T3']));
        $this->sendAll();
        // 101 and 102 now sent (awaiting their tickets); one more pending.
        $this->save(104, $this->legacySnapshot('A-104', 'amazon', self::DELIVERED));
        ini_set('shoppingfeed_sync.database', $this->database);

        return $old;
    }

    public function testEveryRowMovesWithItsStateAndASecondRunAddsNothing(): void
    {
        $old = $this->oldQueue();
        ini_set('shoppingfeed_sync.database', $old);
        $before = [];
        foreach ([101, 102, 103, 104] as $id) {
            $before[$id] = ShoppingfeedOrderSyncQueue::find($id);
        }
        $oldCounts = ShoppingfeedOrderSyncQueue::counts(1);
        ini_set('shoppingfeed_sync.database', $this->database);

        $first = ShoppingfeedOrderSyncQueue::importFrom($old);
        $live = $oldCounts['pending'] + $oldCounts['sent'] + $oldCounts['failed'];
        $this->assertSame(['copied' => $live, 'already_there' => 0, 'done_left' => $oldCounts['done']], $first);
        $this->assertSame($oldCounts['pending'], ShoppingfeedOrderSyncQueue::counts(1)['pending']);
        $this->assertSame($oldCounts['sent'], ShoppingfeedOrderSyncQueue::counts(1)['sent']);

        $second = ShoppingfeedOrderSyncQueue::importFrom($old);
        $this->assertSame(['copied' => 0, 'already_there' => $live, 'done_left' => $oldCounts['done']], $second);

        foreach ($before as $id => $rows) {
            $moved = ShoppingfeedOrderSyncQueue::find($id);
            $live = array_values(array_filter($rows, static function ($r) {
                return $r['state'] !== 'done';
            }));
            $this->assertCount(count($live), $moved, "order $id");
            foreach ($live as $i => $row) {
                foreach (['id_order', 'id_shop', 'action', 'state', 'operation', 'batch_id', 'ticket_id', 'attempts', 'failures', 'date_add', 'payload'] as $key) {
                    if (array_key_exists($key, $row)) {
                        $this->assertSame($row[$key], $moved[$i][$key], "order $id, $key");
                    }
                }
            }
        }

        // The moved queue works: the sent rows' tickets are read, the
        // pending rows sent, from the new store.
        $this->checkAll();
        $this->sendAll();
        $this->checkAll();
        $this->assertSame(0, ShoppingfeedOrderSyncQueue::counts(1)['pending']);
        // The source is untouched.
        ini_set('shoppingfeed_sync.database', $old);
        $this->assertSame($oldCounts, ShoppingfeedOrderSyncQueue::counts(1));
    }

    public function testAPendingRowSavedAfterTheSwitchWins(): void
    {
        $old = $this->oldQueue();
        // The merchant switched, then order 104 changed again before the move.
        $this->save(104, $this->legacySnapshot('A-104', 'amazon', self::SHIPPED, ['tracking_number' => 'NEW']));
        ShoppingfeedOrderSyncQueue::importFrom($old);
        $rows = ShoppingfeedOrderSyncQueue::find(104);
        $pending = array_values(array_filter($rows, static function ($r) {
            return $r['state'] === 'pending';
        }));
        $this->assertCount(1, $pending, 'one pending row of order 104');
        $this->assertStringContainsString('"NEW"', json_encode($pending[0]['payload']), 'the newer snapshot');
        $superseded = array_values(array_filter($rows, static function ($r) {
            return $r['state'] === 'done';
        }));
        $this->assertCount(1, $superseded);
        $this->assertStringContainsString('superseded', (string) $superseded[0]['last_error']);
    }

    public function testTheCliMoveCommandRunTwiceAddsNothingTheSecondTime(): void
    {
        $old = $this->oldQueue();
        $cli = TestEnv::$root . '/php/tools/bin/sync-orders.php';
        $runs = [];
        foreach ([1, 2] as $run) {
            $cmd = array_merge(TestEnv::phpCommand(), [$cli, 'move', '--from=' . $old, '--database=' . $this->database, '--json']);
            [$code, $out, $err] = TestEnv::run($cmd);
            $this->assertSame(0, $code, "run $run: $err");
            $this->assertNoStoreSecret($out . $err, "move run $run");
            $runs[] = json_decode($out, true);
        }
        $this->assertGreaterThan(0, $runs[0]['copied']);
        $this->assertSame(0, $runs[1]['copied']);
        $this->assertSame($runs[0]['copied'], $runs[1]['already_there']);
        $this->assertStringContainsString('***', $runs[0]['database'], 'the password is hidden');

        [$code, , $err] = TestEnv::run(array_merge(TestEnv::phpCommand(), [$cli, 'move', '--database=' . $this->database]));
        $this->assertSame(2, $code, 'no --from: usage');
        $this->assertStringContainsString('move needs --from', $err);
    }

    public function testRefusals(): void
    {
        foreach ([$this->database => 'the current queue', $this->dir . '/none.sqlite' => 'does not exist', 'relative.sqlite' => 'relative'] as $value => $why) {
            try {
                ShoppingfeedOrderSyncQueue::importFrom($value);
                $this->fail("$value accepted");
            } catch (ShoppingfeedSyncException $e) {
                $this->assertStringContainsString($why, $e->getMessage());
                $this->assertNoStoreSecret($e->getMessage(), 'importFrom refusal');
            }
        }
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 0, 'failed' => 0], ShoppingfeedOrderSyncQueue::counts(1));
    }
}
