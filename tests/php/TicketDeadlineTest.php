<?php

/**
 * The conveyor's `deadline` (an extension; the cron controller passes its
 * time budget): checkTickets stops reading at it and leaves what it did not
 * read for the next run, with no attempt lost.
 */
final class TicketDeadlineTest extends SyncTestCase
{
    public function testTicketReadsStopAtTheDeadlineAndReleaseTheRows(): void
    {
        for ($i = 1; $i <= 5; $i++) {
            $this->save($i, $this->snapshot(700 + $i, self::DELIVERED));
        }
        $this->sendAll();
        // Every ticket read now announces 100 pages of 0.5 s each: read to
        // the end (or to the engine's page cap) it takes seconds.
        Sandbox::config(['ticket_pages' => ['pages' => 100, 'page_ms' => 500]]);

        $started = microtime(true);
        $run = $this->check(['deadline' => $started + 0.8]);
        $elapsed = microtime(true) - $started;

        $this->assertTrue($run['ok'], 'running out of time is not an error of the chain');
        $this->assertLessThan(2.5, $elapsed, 'the reads stopped at the deadline (0.8 s), not after the pages (>= 5 s)');
        $errors = implode("\n", $run['conveyor']['errors'] ?? []);
        $this->assertStringContainsString('out of time', $errors, 'the report says why rows were left');
        foreach (range(1, 5) as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state'], 'left for the next run');
            $this->assertSame(0, $row['attempts'], 'running out of time costs no attempt');
        }

        Sandbox::config(['ticket_pages' => null]);
        $this->checkAll();
        $this->assertEquals(['pending' => 0, 'sent' => 0, 'done' => 5, 'failed' => 0], ShoppingfeedOrderSyncQueue::counts(1), 'the next run reads them');
    }

    /** @return iterable<string, array{mixed}> */
    public static function badDeadlines(): iterable
    {
        yield 'a string' => ['soon'];
        yield 'an array' => [[1]];
        yield 'zero' => [0];
        yield 'negative' => [-5.5];
    }

    /**
     * @dataProvider badDeadlines
     * @param mixed $deadline
     */
    public function testABadDeadlineNamesTheKeyAndTouchesNothing($deadline): void
    {
        $this->save(1, $this->snapshot(801, self::DELIVERED));
        $this->sendAll();
        $before = $this->rowOf(1);
        try {
            $this->check(['deadline' => $deadline]);
            $this->fail('a bad deadline is refused');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertStringContainsString('deadline', $e->getMessage());
        }
        $after = $this->rowOf(1);
        $this->assertSame($before['state'], $after['state']);
        $this->assertSame($before['attempts'], $after['attempts']);
    }
}
