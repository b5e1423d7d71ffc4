<?php

/**
 * The operator's commands of php/tools/bin/sync-orders.php (issue 14,
 * part 2): status, failed, retry, purge, show, and run's progress and
 * summary, each with --json, --help and its exit codes; the token and a
 * database password are never printed. Run as a black box, like CliTest.
 */
final class OperatorCliTest extends SyncTestCase
{
    private function cli(array $args, array $env = ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]): array
    {
        $cmd = TestEnv::phpCommand();
        $cmd[] = TestEnv::$root . '/php/tools/bin/sync-orders.php';
        [$code, $out, $err] = TestEnv::run(array_merge($cmd, $args), $env);
        $this->assertNoSecret($out . $err);

        return [$code, $out, $err];
    }

    /** @return array the command's JSON output (asserting it is JSON) */
    private function json(string $out): array
    {
        $decoded = json_decode($out, true);
        $this->assertIsArray($decoded, "not JSON:\n$out");

        return $decoded;
    }

    private function assertNoSecret(string $text): void
    {
        $this->assertStringNotContainsString(self::TOKEN, $text, 'never the API token');
        foreach (method_exists('TestEnv', 'storeSecrets') ? TestEnv::storeSecrets() : [] as $label => $secret) {
            $this->assertStringNotContainsString($secret, $text, "never $label");
        }
    }

    /**
     * The queue of the status tests: two shops, two actions.
     *
     * Shop 1, SYNC_STATUS: order 1 failed (a ship without tracking number
     * whose ticket failed, MAX_ATTEMPTS 1), order 2 done, order 3 sent (its
     * ticket not read yet), orders 4 and 5 pending and due, order 6 a ship
     * waiting for its time shift (60 min). Shop 2: order 21 failed
     * (SYNC_STATUS), order 22 pending (SYNC_CARRIER, a field written in PHP).
     */
    private function queue(): void
    {
        $once = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => 1];
        $this->save(1, $this->snapshot(101, self::SHIPPED, ['tracking_number' => '', 'tracking_url' => '']));
        $this->save(2, $this->snapshot(102, self::CANCELLED));
        $this->sendAll([], $once);
        $this->checkAll([], $once);
        $this->save(3, $this->snapshot(103, self::CANCELLED));
        $this->sendAll([], $once);
        $this->save(4, $this->snapshot(104, self::CANCELLED));
        $this->save(5, $this->snapshot(105, self::DELIVERED));
        $this->save(6, $this->snapshot(106, self::SHIPPED), [], ['SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => 60]);

        $this->save(21, $this->snapshot(121, self::SHIPPED, ['tracking_number' => '', 'tracking_url' => '']), ['id_shop' => 2]);
        $this->sendAll(['id_shop' => 2], $once);
        $this->checkAll(['id_shop' => 2], $once);
        $this->save(22, ['id_internal_shoppingfeed' => 122, 'carrier' => 'UPS'], ['id_shop' => 2, 'order_action' => 'SYNC_CARRIER'], [], 'ShoppingfeedOrderSyncCarrierActions');

        $this->assertSame('failed', $this->rowOf(1)['state']);
        $this->assertSame('failed', $this->rowOf(21)['state']);
        $this->assertSame('sent', $this->rowOf(3)['state']);
        $this->assertSame(['pending' => 3, 'sent' => 1, 'done' => 1, 'failed' => 1], ShoppingfeedOrderSyncQueue::counts(1));
    }

    /** @return array the status table's line of a shop and action */
    private function action(array $status, int $idShop, string $action): array
    {
        foreach ($status['actions'] as $line) {
            if ($line['id_shop'] === $idShop && $line['action'] === $action) {
                return $line;
            }
        }
        $this->fail("no status line for shop $idShop, $action: " . json_encode($status['actions']));
    }

    public function testStatusShowsShopsActionsStatesAgesAndFailures(): void
    {
        $this->queue();
        [$code, $out, $err] = $this->cli(['status', '--json']);
        $this->assertSame(1, $code, "failed rows need attention: exit 1\n$err");
        $status = $this->json($out);
        $this->assertSame(['pending' => 4, 'due' => 3, 'claimed' => 0, 'sent' => 1, 'done' => 1, 'failed' => 2], $status['totals'], 'both shops');

        $sync1 = $this->action($status, 1, 'SYNC_STATUS');
        $this->assertSame([3, 2, 0], [$sync1['pending'], $sync1['due'], $sync1['claimed']]);
        $this->assertIsInt($sync1['oldest_due_age']);
        $this->assertGreaterThanOrEqual(0, $sync1['oldest_due_age']);
        $this->assertLessThan(120, $sync1['oldest_due_age'], 'due since this test saved it');
        $this->assertGreaterThan(3300, $sync1['next_due_in'], 'order 6 waits for its 60-minute time shift');
        $this->assertLessThanOrEqual(3600, $sync1['next_due_in']);
        $check1 = $this->action($status, 1, 'CHECK_TICKET_SYNC_STATUS');
        $this->assertSame(1, $check1['sent'], 'order 3: sent, ticket not read');
        $this->assertIsInt($check1['oldest_sent_age']);
        $carrier2 = $this->action($status, 2, 'SYNC_CARRIER');
        $this->assertSame([1, 1], [$carrier2['pending'], $carrier2['due']]);
        $shop2Failed = 0;
        foreach ($status['actions'] as $line) {
            $shop2Failed += $line['id_shop'] === 2 ? $line['failed'] : 0;
        }
        $this->assertSame(1, $shop2Failed);

        $this->assertSame(2, $status['failed']['count']);
        $orders = array_column($status['failed']['rows'], 'id_order');
        sort($orders);
        $this->assertSame([1, 21], $orders);
        foreach ($status['failed']['rows'] as $row) {
            $this->assertStringContainsString('Missing tracking number', (string) $row['last_error']);
            $this->assertSame('ship', $row['operation']);
            $this->assertSame(1, $row['failures']);
        }
        if (stripos($this->database, 'mysql://') === 0) {
            $this->assertStringStartsWith('mysql://', $status['database'], 'the queue, its password hidden (assertNoSecret)');
        } else {
            $this->assertSame($this->database, $status['database']);
        }

        // The same, for a person.
        [$code, $out] = $this->cli(['status']);
        $this->assertSame(1, $code);
        $this->assertMatchesRegularExpression('/^shop\s+action\s+pending\s+due\s+oldest due\s+next due\s+claimed\s+sent\s+oldest sent\s+done\s+failed$/m', $out);
        $this->assertMatchesRegularExpression('/^\s*1\s+SYNC_STATUS\s+3\s+2\s+\d+s\s+in (59m \d\ds|1h 00m)\s+0\s+0\s+-\s+0\s+1$/m', $out, $out);
        $this->assertMatchesRegularExpression('/^\s*1\s+CHECK_TICKET_SYNC_STATUS\s+0\s+0\s+-\s+-\s+0\s+1\s+\d+s\s+1\s+0$/m', $out, 'the done row keeps its ticket stage');
        $this->assertMatchesRegularExpression('/^\s*2\s+SYNC_CARRIER\s+1\s+1\s/m', $out);
        $this->assertStringContainsString('Total: 4 pending (3 due), 1 sent awaiting their ticket, 1 done, 2 failed.', $out);
        $this->assertMatchesRegularExpression('/^Failed rows: 2 /m', $out);
        $this->assertMatchesRegularExpression('/^  order 1 \(shop 1\) ship, 1 attempt, 1 failure, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: Missing tracking number/m', $out);
        $this->assertMatchesRegularExpression('/^  order 21 \(shop 2\) ship/m', $out);

        // One shop; no failed row listed; quiet.
        [$code, $out] = $this->cli(['status', '--shop=2', '--limit=0', '--json']);
        $this->assertSame(1, $code);
        $status = $this->json($out);
        $this->assertSame([2], array_values(array_unique(array_column($status['actions'], 'id_shop'))));
        $this->assertSame(['count' => 1, 'shown' => 0, 'rows' => []], $status['failed']);
        [$code, $out, $err] = $this->cli(['status', '-q']);
        $this->assertSame([1, '', ''], [$code, $out, $err], '-q: only the exit code');
    }

    public function testStatusOfAHealthyQueueExitsZero(): void
    {
        [$code, $out] = $this->cli(['status']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString('The queue is empty.', $out);
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        [$code, $out] = $this->cli(['status', '--json']);
        $this->assertSame(0, $code);
        $status = $this->json($out);
        $this->assertSame(['pending' => 1, 'due' => 1, 'claimed' => 0, 'sent' => 0, 'done' => 0, 'failed' => 0], $status['totals']);
        $this->assertSame(0, $status['failed']['count']);
        [$code, , $err] = $this->cli(['status', '--shop=x']);
        $this->assertSame(2, $code);
        $this->assertStringContainsString('--shop must be a positive shop id', $err);
        [$code, , $err] = $this->cli(['status', '--limit=-3']);
        $this->assertSame(2, $code);
        $this->assertStringContainsString('--limit', $err);
    }

    public function testFailedListsTheRowsWithTheirLastError(): void
    {
        $this->queue();
        [$code, $out] = $this->cli(['failed', '--json']);
        $this->assertSame(1, $code);
        $failed = $this->json($out);
        $this->assertSame(2, $failed['count']);
        $this->assertSame(2, $failed['shown']);
        $this->assertSame(
            ['id_shoppingfeed_order', 'id_order', 'id_shop', 'action', 'operation', 'attempts', 'failures', 'last_error', 'failed_at', 'date_add'],
            array_keys($failed['rows'][0])
        );
        $this->assertSame(21, $failed['rows'][0]['id_order'], 'newest failure first');
        $this->assertSame(1, $failed['rows'][1]['id_order']);
        $this->assertSame([1, 1], [$failed['rows'][1]['attempts'], $failed['rows'][1]['failures']]);

        [$code, $out] = $this->cli(['failed', '--shop=1', '--json']);
        $this->assertSame(1, $code);
        $this->assertSame([1], array_column($this->json($out)['rows'], 'id_order'));
        [$code, $out] = $this->cli(['failed', '--limit=1', '--json']);
        $failed = $this->json($out);
        $this->assertSame([2, 1], [$failed['count'], $failed['shown']], 'the count is of every failed row');

        [$code, $out] = $this->cli(['failed']);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('2 failed rows, newest first:', $out);
        $this->assertMatchesRegularExpression('/^row\s+order\s+shop\s+action\s+operation\s+attempts\s+failures\s+failed at\s+last error$/m', $out);
        $this->assertMatchesRegularExpression('/^\s*\d+\s+1\s+1\s+\S+\s+ship\s+1\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+Missing tracking number/m', $out);

        [$code, , $err] = $this->cli(['failed', '--shop=1', '--shop=2']);
        $this->assertSame(2, $code);
        $this->assertStringContainsString('--shop takes one shop', $err);
    }

    public function testFailedOnAQueueWithoutFailuresExitsZero(): void
    {
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        [$code, $out] = $this->cli(['failed']);
        $this->assertSame(0, $code);
        $this->assertSame("No failed row.\n", $out);
        [$code, $out] = $this->cli(['failed', '--json']);
        $this->assertSame(['count' => 0, 'shown' => 0, 'rows' => []], array_intersect_key($this->json($out), ['count' => 0, 'shown' => 0, 'rows' => 0]));
    }

    public function testRetryPutsFailedRowsBackToPending(): void
    {
        $this->queue();
        [$code, $out] = $this->cli(['retry', '--shop=1', '--order=1', '--order=999', '--json']);
        $this->assertSame(0, $code);
        $retry = $this->json($out);
        $this->assertSame(1, $retry['retried']);
        $this->assertSame(['1' => 1], $retry['shops']);
        $this->assertSame([1, 999], $retry['orders']);
        $row = $this->rowOf(1);
        $this->assertSame(['pending', 0, 0], [$row['state'], $row['attempts'], $row['failures']]);
        $this->assertSame('failed', $this->rowOf(21)['state'], 'another shop is left alone');

        [$code, $out] = $this->cli(['retry']);
        $this->assertSame(0, $code);
        $this->assertSame("Retried 1 failed row (shop 2: 1): pending again, due now; the next run sends them.\n", $out);
        $this->assertSame('pending', $this->rowOf(21)['state']);
        [$code, $out] = $this->cli(['retry']);
        $this->assertSame([0, "No failed row: nothing to retry.\n"], [$code, $out]);
        [$code] = $this->cli(['failed', '-q']);
        $this->assertSame(0, $code, 'nothing failed any more');

        [$code, , $err] = $this->cli(['retry', '--order=abc']);
        $this->assertSame(2, $code);
        $this->assertStringContainsString('--order must be a positive order id', $err);
    }

    public function testPurgeDeletesOnlyOldDoneRows(): void
    {
        $this->queue();
        [$code, , $err] = $this->cli(['purge']);
        $this->assertSame(2, $code);
        $this->assertStringContainsString('purge needs --days=N', $err);
        foreach (['-1', 'abc', '36501'] as $bad) {
            [$code, , $err] = $this->cli(['purge', '--days=' . $bad]);
            $this->assertSame(2, $code, "--days=$bad");
            $this->assertStringContainsString('--days must be a number of days', $err);
        }
        [$code, $out] = $this->cli(['purge', '--days=30', '--json']);
        $this->assertSame([0, 0], [$code, $this->json($out)['purged']], 'nothing is 30 days old');
        // purge --days=0 deletes done rows changed before this second.
        usleep(1100000);
        [$code, $out] = $this->cli(['purge', '--days=0']);
        $this->assertSame([0, "Purged 1 done row unchanged for 0 days.\n"], [$code, $out]);
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(2), 'the done row is gone');
        $this->assertSame(['pending' => 3, 'sent' => 1, 'done' => 0, 'failed' => 1], ShoppingfeedOrderSyncQueue::counts(1), 'pending, sent and failed rows stay');
    }

    public function testShowGivesEveryRowOfAnOrderWithItsSnapshotAndCounters(): void
    {
        $this->queue();
        [$code, $out] = $this->cli(['show', '1', '--json']);
        $this->assertSame(0, $code);
        $show = $this->json($out);
        $this->assertSame(1, $show['id_order']);
        $this->assertCount(1, $show['rows']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::find(1), $show['rows'], 'the rows as find() gives them');
        $this->assertStringContainsString('no log of attempts', $show['history']);

        [$code, $out] = $this->cli(['show', '1']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString("Order 1: 1 queue row\n", $out);
        $this->assertMatchesRegularExpression('/^row \d+  shop 1  \S+  failed  operation ship$/m', $out);
        $this->assertMatchesRegularExpression('/^  attempts     1 \(tries that did not succeed\), failures 1 \(order-specific\)$/m', $out);
        $this->assertMatchesRegularExpression('/^  last error   .*Missing tracking number/m', $out);
        $this->assertStringContainsString('"id_internal_shoppingfeed": 101', $out, 'the snapshot');
        $this->assertStringContainsString('History: the queue keeps no log of attempts', $out);

        [$code, $out] = $this->cli(['show', '999']);
        $this->assertSame([1, "Order 999 has no queue row (never queued, or done and purged).\n"], [$code, $out]);
        foreach ([[['show'], 'show needs an order id'], [['show', 'abc'], 'ORDER_ID must be a positive order id'], [['show', '1', '2'], 'unexpected argument: 2']] as [$args, $message]) {
            [$code, , $err] = $this->cli($args);
            $this->assertSame(2, $code, implode(' ', $args));
            $this->assertStringContainsString($message, $err);
        }
    }

    public function testEveryCommandHasItsHelpAndExitCodes(): void
    {
        foreach (['run', 'status', 'failed', 'retry', 'purge', 'show'] as $command) {
            [$code, $out, $err] = $this->cli([$command, '--help']);
            $this->assertSame([0, ''], [$code, $err], "$command --help");
            $this->assertMatchesRegularExpression('/^Usage: sync-orders\.php (\[run\]|' . $command . ')/', $out, "$command --help");
            $this->assertStringContainsString('Exit status:', $out);
            $this->assertStringContainsString('--json', $out);
            [$code, , $err] = $this->cli([$command, '--frobnicate']);
            $this->assertSame(2, $code, "$command --frobnicate");
            $this->assertStringContainsString('unknown option --frobnicate', $err);
        }
        [$code, $out] = $this->cli(['--help']);
        $this->assertSame(0, $code);
        foreach (['run', 'status', 'failed', 'retry', 'purge', 'show'] as $command) {
            $this->assertMatchesRegularExpression('/^  ' . $command . ' +\S/m', $out, "the overview lists $command");
        }
        [$code, , $err] = $this->cli(['frobnicate']);
        $this->assertSame(2, $code);
        $this->assertStringContainsString('unknown command frobnicate', $err);
    }

    public function testAnUnusableQueueExitsFourAndNeverShowsThePassword(): void
    {
        [$code, $out, $err] = $this->cli(['status', '--database=queue.sqlite']);
        $this->assertSame(4, $code, $out . $err);
        $this->assertStringContainsString('shoppingfeed_sync.database', $err);

        $password = 'S3cret-' . bin2hex(random_bytes(4));
        foreach (['status', 'failed', 'show'] as $command) {
            $args = [$command, '--database=mysql://shop:' . $password . '@127.0.0.1:1/prestashop', '--json'];
            if ($command === 'show') {
                $args[] = '1';
            }
            [$code, $out, $err] = $this->cli($args);
            $this->assertSame(4, $code, "$command on a database that cannot be reached: $out $err");
            $this->assertStringNotContainsString($password, $out . $err, "$command never prints the password");
            $this->assertNotSame('', $err, 'it says why');
        }
    }

    public function testTheDatabaseLabelHidesAPassword(): void
    {
        require_once TestEnv::$root . '/php/tools/lib/cli.php';
        $this->assertSame('mysql://shop:***@db:3306/ps?prefix=ps_', sync_orders_database_label('mysql://shop:p%40ss@db:3306/ps?prefix=ps_'));
        $this->assertSame('mysql://shop:***@db/ps', sync_orders_database_label('mysql://shop:p@ss@db/ps'), 'an unencoded @ is hidden whole');
        $this->assertSame('mysql://shop@db/ps', sync_orders_database_label('mysql://shop@db/ps'));
        $this->assertSame('/var/lib/q.sqlite', sync_orders_database_label('/var/lib/q.sqlite'));
        $this->assertSame('prestashop', sync_orders_database_label('prestashop'));
    }

    public function testRunIsQuietOffATerminalAndShowsProgressOnOne(): void
    {
        for ($i = 1; $i <= 3; $i++) {
            $this->save($i, $this->snapshot(100 + $i, self::CANCELLED));
        }
        $base = ['--shop=1', '--store-id=42', '--lock-dir=' . $this->dir . '/locks', '--set', 'SHOPPINGFEED_CANCELLED_ORDERS=[6]'];
        // Off a terminal (crontab): the summary only, nothing on stderr.
        [$code, $out, $err] = $this->cli(array_merge(['run'], $base));
        $this->assertSame(0, $code, $err);
        $this->assertSame('', $err, 'no progress off a terminal');
        $this->assertMatchesRegularExpression('/^shop 1: done; sent 3, /m', $out);
        $this->assertMatchesRegularExpression('/^run: \d+\.\d s$/m', $out);

        // Forced progress (a log that wants it): one line per update, on stderr.
        $this->save(4, $this->snapshot(104, self::CANCELLED));
        [$code, $out, $err] = $this->cli(array_merge(['run', '--progress'], $base));
        $this->assertSame(0, $code, $err);
        $this->assertMatchesRegularExpression('/^\[ *\d+\.\ds\] sent \d+, tickets read \d+, done \d+, retry later \d+, failed \d+, errors \d+; last: shop 1 SYNC_STATUS (tickets|send): \d+ rows in \d+ requests? \(\d+ in flight at most\)$/m', $err);
        $this->assertStringContainsString('tickets read 3', $err, 'the tickets of the first run were read');
        $this->assertMatchesRegularExpression('/^shop 1: done; sent 1, tickets checked 3, /m', $out);

        // -q: nothing at all.
        $this->save(5, $this->snapshot(105, self::CANCELLED));
        [$code, $out, $err] = $this->cli(array_merge(['run', '-q', '--progress'], $base));
        $this->assertSame([0, '', ''], [$code, $out, $err]);
    }

    public function testRunOnATerminalRewritesOneProgressLine(): void
    {
        if (!is_executable('/usr/bin/script')) {
            $this->fail('util-linux script(1) is needed to give the runner a terminal (Debian: bsdutils, always installed)');
        }
        for ($i = 1; $i <= 3; $i++) {
            $this->save($i, $this->snapshot(100 + $i, self::CANCELLED));
        }
        $cmd = array_merge(TestEnv::phpCommand(), [TestEnv::$root . '/php/tools/bin/sync-orders.php', '--shop=1', '--store-id=42',
            '--lock-dir=' . $this->dir . '/locks', '--set', 'SHOPPINGFEED_CANCELLED_ORDERS=[6]']);
        $line = implode(' ', array_map('escapeshellarg', $cmd));
        // script(1) runs the command on a pseudo-terminal: stdout and stderr both are one.
        [$code, $out, $err] = TestEnv::run(['/usr/bin/script', '-qfec', $line, '/dev/null'], ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
        $this->assertSame(0, $code, $out . $err);
        $this->assertNoSecret($out . $err);
        $this->assertStringContainsString("\r\033[K[", $out, 'the progress line is rewritten in place');
        $this->assertMatchesRegularExpression('/sent 3, tickets read 0, .*last: shop 1 SYNC_STATUS send: 3 rows in 1 request \(1 in flight at most\)/', $out);
        $this->assertMatchesRegularExpression('/\r?\nshop 1: done; sent 3, /', $out, 'then the summary, on a line of its own');
    }
}
