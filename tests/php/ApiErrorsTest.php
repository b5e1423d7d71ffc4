<?php

/**
 * API errors: 429 waits and retries; 5xx, timeouts, dropped connections are
 * an outage (pending, attempts + 1, backoff, never STATE_FAILED); 401/403 stop
 * the run with ShoppingfeedApiException, release the claims and cost no
 * attempt; a 4xx naming one order of a bulk request isolates that order.
 */
final class ApiErrorsTest extends SyncTestCase
{
    /** @return int[] order ids saved */
    private function queueCancels(int $count, int $first = 1): array
    {
        $ids = [];
        for ($i = $first; $i < $first + $count; $i++) {
            $this->save($i, $this->snapshot(10000 + $i, self::CANCELLED));
            $ids[] = $i;
        }

        return $ids;
    }

    /** Runs a send chain, tolerating an exception for outages (the contract does not say). */
    private function sendTolerant(array $settings = []): array
    {
        try {
            return $this->send([], $settings) + ['exception' => null];
        } catch (ShoppingfeedApiException $e) {
            return ['ok' => false, 'stopped' => 'sendBatch', 'conveyor' => [], 'exception' => $e];
        }
    }

    public function testServerErrorKeepsRowsPendingWithOneMoreAttemptAndABackoff(): void
    {
        $this->queueCancels(3);
        Sandbox::faults([['kind' => 'status', 'status' => 503, 'count' => 50, 'on' => 'order']]);
        $run = $this->sendTolerant(['SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '60']);
        foreach ([1, 2, 3] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
            $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS, $row['action']);
            $this->assertSame(1, $row['attempts'], 'one more attempt');
            $this->assertSame(0, $row['failures'], 'an outage is not an order failure');
            $wait = $this->utc($row['update_at']) - time();
            $this->assertGreaterThanOrEqual(45, $wait, 'backoff from RETRY_DELAY (60 s +-20 %)');
            $this->assertLessThanOrEqual(75, $wait);
        }
        if ($run['exception'] === null) {
            $this->assertNotEmpty($run['conveyor']['errors'] ?? [], 'the outage is reported in errors');
        }
        $this->assertFalse($this->send()['ok'], 'not due again before the delay');
    }

    public function testAnOutageAloneNeverMakesARowFailed(): void
    {
        $this->queueCancels(1);
        Sandbox::faults([['kind' => 'status', 'status' => 502, 'count' => 100, 'on' => 'order']]);
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '1', 'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0'];
        for ($i = 0; $i < 3; $i++) {
            $this->sendTolerant($settings);
        }
        $row = $this->rowOf(1);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state'], 'MAX_ATTEMPTS counts order failures, not outages');
        $this->assertSame(3, $row['attempts']);
        $this->assertSame(0, $row['failures']);
    }

    public function testRateLimitWaitsWhatTheApiSaysThenRetries(): void
    {
        $this->queueCancels(2);
        Sandbox::faults([['kind' => 'rate_limit', 'wait' => 0.3, 'count' => 1, 'on' => 'order']]);
        $started = microtime(true);
        $run = $this->send();
        $elapsed = microtime(true) - $started;
        $this->assertTrue($run['ok']);
        $this->assertGreaterThanOrEqual(0.28, $elapsed, 'waited X-RateLimit-Wait (0.3 s)');
        $statuses = array_column(Sandbox::orderPosts(), 'status');
        $this->assertSame([429, 202], $statuses, 'a 429, then the same request again');
        foreach ([1, 2] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state']);
            $this->assertSame(0, $row['attempts'], 'a rate limit is not a failed try');
        }
    }

    public function testRejectedTokenThrowsApiExceptionAndReleasesTheClaimWithoutCostingAnAttempt(): void
    {
        $this->queueCancels(3);
        $badToken = 'rejected-' . bin2hex(random_bytes(6));
        try {
            $this->send(['token' => $badToken]);
            $this->fail('a 403 must stop the run with ShoppingfeedApiException');
        } catch (ShoppingfeedApiException $e) {
            $this->assertInstanceOf(ShoppingfeedSyncException::class, $e);
            $this->assertInstanceOf(RuntimeException::class, $e);
            $this->assertStringNotContainsString($badToken, $e->getMessage(), 'never the token in a message');
            $this->assertNoStoreSecret((string) $e, 'the exception');
        }
        foreach ([1, 2, 3] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
            $this->assertSame(0, $row['attempts'], 'no row loses an attempt');
            $this->assertSame(0, $row['failures']);
            $this->assertLessThanOrEqual(time() + 1, $this->utc($row['update_at']), 'still due');
        }
        // Released at once: the next run with the right token sends the same rows.
        $run = $this->send();
        $this->assertTrue($run['ok']);
        $this->assertCount(3, $run['conveyor']['batch']);
        $this->assertSame(['10001', '10002', '10003'], self::elementKeys(Sandbox::orderPosts(202)));
        $this->assertSame(3, ShoppingfeedOrderSyncQueue::counts(1)['sent']);
    }

    public function testRejectedTokenWhileCheckingTicketsKeepsTheRowsSent(): void
    {
        $this->queueCancels(2);
        $this->sendAll();
        try {
            $this->check(['token' => 'wrong-token']);
            $this->fail('a 403 on the tickets must throw ShoppingfeedApiException');
        } catch (ShoppingfeedApiException $e) {
            $this->assertStringNotContainsString('wrong-token', $e->getMessage());
            $this->assertNoStoreSecret((string) $e, 'the exception');
        }
        foreach ([1, 2] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state']);
            $this->assertSame(0, $row['attempts']);
        }
        $run = $this->check();
        $this->assertCount(2, $run['conveyor']['batch'], 'claims released at once');
        $this->assertSame(2, ShoppingfeedOrderSyncQueue::counts(1)['done']);
    }

    public function testUnprocessableOrderInABulkRequestIsIsolated(): void
    {
        for ($i = 1; $i <= 100; $i++) {
            $this->save($i, $this->snapshot(20000 + $i, self::SHIPPED));
        }
        Sandbox::config(['reject_orders' => ['20042' => 422]]);
        $run = $this->send();
        $this->assertNotSame('getBatch', $run['stopped']);

        $rejected = $this->rowOf(42);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $rejected['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS, $rejected['action']);
        $this->assertSame(1, $rejected['failures'], 'an order-specific failure');
        $this->assertSame(1, $rejected['attempts']);
        $this->assertNotEmpty($rejected['last_error']);
        $this->assertStringContainsString('20042', (string) $rejected['last_error'], 'the API\'s detail names it');

        $accepted = Sandbox::orderPosts(202);
        $keys = self::elementKeys($accepted);
        $this->assertCount(99, $keys, 'the 99 good orders are sent again in the same run');
        $this->assertNotContains('20042', $keys);
        $this->assertCount(99, array_unique($keys), 'each good order accepted once');
        $this->assertSame(99, ShoppingfeedOrderSyncQueue::counts(1)['sent']);
        $this->assertSame(1, ShoppingfeedOrderSyncQueue::counts(1)['pending']);
        foreach (Sandbox::orderPosts() as $post) {
            $this->assertLessThanOrEqual(100, count($post['elements']));
        }
    }

    /**
     * @dataProvider orderErrorStatuses
     */
    public function testFourHundredStatusesNamingAnOrderCountAlike(int $status): void
    {
        for ($i = 1; $i <= 6; $i++) {
            $this->save($i, $this->legacySnapshot('MP-' . $i, 'fnac', self::REFUNDED));
        }
        Sandbox::config(['reject_orders' => ['MP-4' => $status]]);
        $this->send();
        $row = $this->rowOf(4);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state'], "$status: the named order waits");
        $this->assertSame(1, $row['failures'], "$status: counted as an order failure");
        foreach ([1, 2, 3, 5, 6] as $idOrder) {
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf($idOrder)['state'], "$status: order $idOrder is not blocked");
        }
        $this->assertSame(['MP-1', 'MP-2', 'MP-3', 'MP-5', 'MP-6'], self::elementKeys(Sandbox::orderPosts(202)));
    }

    public function orderErrorStatuses(): array
    {
        return ['400' => [400], '404' => [404], '409' => [409], '422' => [422]];
    }

    public function testARejectedOrderReachesFailedAtTheLimitAndIsListed(): void
    {
        $this->queueCancels(2);
        Sandbox::config(['reject_orders' => ['10002' => 422]]);
        $run = $this->send([], ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => 1]);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $this->rowOf(2)['state']);
        $this->assertSame([$this->rowOf(2)['id_shoppingfeed_order']], self::ids($run['conveyor']['failed'] ?? []));
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(1)['state']);
    }

    public function testDroppedConnectionIsAnOutage(): void
    {
        $this->queueCancels(2);
        Sandbox::faults([['kind' => 'drop', 'count' => 20, 'on' => 'order']]);
        $this->sendTolerant();
        foreach ([1, 2] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
            $this->assertSame(1, $row['attempts']);
            $this->assertSame(0, $row['failures']);
        }
    }

    public function testTimeoutIsAnOutage(): void
    {
        ini_set('shoppingfeed_sync.timeout_ms', '300');
        $this->queueCancels(1);
        Sandbox::faults([['kind' => 'slow', 'ms' => 3000, 'count' => 20, 'on' => 'order']]);
        $started = microtime(true);
        $this->sendTolerant();
        $this->assertLessThan(2.5, microtime(true) - $started, 'bounded by timeout_ms');
        $row = $this->rowOf(1);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(1, $row['attempts']);
        $this->assertSame(0, $row['failures']);
    }

    public function testMalformedAnswerLosesNothing(): void
    {
        $this->queueCancels(2);
        Sandbox::faults([['kind' => 'malformed', 'count' => 1, 'on' => 'order']]);
        $this->sendTolerant();
        foreach ([1, 2] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertContains($row['state'], [ShoppingfeedOrderSyncQueue::STATE_PENDING, ShoppingfeedOrderSyncQueue::STATE_SENT], 'still queued or sent');
            $this->assertSame(0, $row['failures'], 'the API\'s garbage is not the order\'s fault');
        }
        // Whatever happened, a later run settles everything.
        $this->sendAll();
        $this->checkAll();
        $this->assertSame(2, ShoppingfeedOrderSyncQueue::counts(1)['done']);
    }

    public function testHugeAnswerDoesNotCrashAndLosesNothing(): void
    {
        $this->queueCancels(1);
        Sandbox::faults([['kind' => 'huge', 'count' => 1, 'on' => 'order']]);
        $before = memory_get_usage();
        $this->sendTolerant();
        $this->assertLessThan(64 * 1024 * 1024, memory_get_usage() - $before, 'the 50 MB body is not kept in PHP');
        $row = $this->rowOf(1);
        $this->assertContains($row['state'], [ShoppingfeedOrderSyncQueue::STATE_PENDING, ShoppingfeedOrderSyncQueue::STATE_SENT]);
        $this->assertSame(0, $row['failures']);
    }

    public function testServerErrorOnTicketsIsNotAnOrderFailure(): void
    {
        $this->queueCancels(1);
        $this->sendAll();
        Sandbox::faults([['kind' => 'status', 'status' => 500, 'count' => 20, 'on' => 'ticket']]);
        try {
            $this->check();
        } catch (ShoppingfeedApiException $e) {
            // allowed: the contract only forbids losing the row or failing it
        }
        $row = $this->rowOf(1);
        $this->assertNotSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $row['state']);
        $this->assertNotSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $row['state'], 'no ticket was read: not done');
        $this->assertSame(0, $row['failures']);
        Sandbox::clearFaults();
        $this->sendAll();
        $this->checkAll();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(1)['state']);
    }
}
