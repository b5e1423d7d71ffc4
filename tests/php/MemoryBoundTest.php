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
        for ($i = 1; $i <= self::ROWS; $i++) {
            $actions->setConveyor($this->conveyor(['id_order' => $i, 'order' => $this->snapshot(100000 + $i, self::DELIVERED)]));
            $this->assertTrue($actions->saveOrder());
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
