<?php

/**
 * Issue 8, defect 6: SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS is accepted up to
 * 100,000, but that many rows do not fit PHP's default memory_limit (128M):
 * getBatch used to commit the claim, then die converting the rows, in every
 * run. Now a claim never hands PHP more rows than its memory can take, and
 * the chain makes progress.
 */
final class MemoryBoundTest extends SyncTestCase
{
    // 60,000 rows peak at 142 MB in PHP when claimed at once (measured with
    // memory_limit=-1): more than 128M.
    private const ROWS = 60000;

    public function testAHugeBatchSizeClaimsWhatTheProcessCanHoldAndMakesProgress(): void
    {
        $actions = $this->actions($this->conveyor());
        // On MySQL each save is a commit flushed to disk (2-4 ms): 60,000 of
        // them would take minutes. What this test needs is 60,000 due rows,
        // so there the first one is saved by the extension and the others
        // are copies of it made in one statement (each its own order), the
        // way a shop's backlog would look.
        $saved = TestEnv::isMysql() ? 1 : self::ROWS;
        for ($i = 1; $i <= $saved; $i++) {
            $actions->setConveyor($this->conveyor(['id_order' => $i, 'order' => $this->snapshot(100000 + $i, self::DELIVERED)]));
            $this->assertTrue($actions->saveOrder());
        }
        if ($saved < self::ROWS) {
            $digits = '(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';
            $copied = $this->storedQueue()->exec(
                'INSERT INTO {queue} (id_order, id_shop, action, state, operation, payload, attempts, failures, update_at, date_add, date_upd)'
                . " SELECT s.n, q.id_shop, q.action, q.state, q.operation, REPLACE(q.payload, '100001', CAST(100000 + s.n AS CHAR)), q.attempts, q.failures, q.update_at, q.date_add, q.date_upd"
                . " FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n FROM $digits a, $digits b, $digits c, $digits e, $digits f) s"
                . ' JOIN {queue} q ON q.id_order = 1 WHERE s.n BETWEEN 2 AND ' . self::ROWS
            );
            $this->assertSame(self::ROWS - 1, $copied);
            $this->assertSame(self::ROWS, ShoppingfeedOrderSyncQueue::counts(1)['pending']);
        }
        $settings = $this->settings(['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => '100000']);

        [$code, $out, $err] = TestEnv::run(array_merge(
            TestEnv::phpCommand(['memory_limit' => '128M']),
            [__DIR__ . '/fixtures/big-batch.php', '1', json_encode($settings)]
        ), [], 120.0);

        $this->assertSame(0, $code, "the child ended normally; stderr: $err");
        $this->assertSame('', $err, 'no fatal error, nothing printed');
        $result = json_decode(trim($out), true);
        $this->assertIsArray($result, "child output: $out");
        $this->assertTrue($result['found'], 'rows were claimed');
        $this->assertGreaterThan(0, $result['claimed']);
        $this->assertLessThan(self::ROWS, $result['claimed'], 'fewer rows than MAX_ORDERS asks: what fits in 128M');
        $this->assertLessThan(128 * 1024 * 1024, $result['peak']);
        $this->assertSame('128M', $result['limit']);
    }
}
