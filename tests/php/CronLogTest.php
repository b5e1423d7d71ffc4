<?php

/**
 * Where the cron controller writes what a run did (issue 14, part 3):
 * classlib's ProcessLoggerHandler (the module's "Logs & crons" page) when it
 * is there, else PrestaShop's logger, else stderr; never a token or a
 * password. Each shop's set of loggers is a process of its own
 * (fixtures/cron-log-child.php): a class, once declared, stays.
 */
final class CronLogTest extends SyncTestCase
{
    /** A token the sandbox refuses, for shop 2. */
    private $badToken;

    protected function setUp(): void
    {
        parent::setUp();
        $this->badToken = 'refused-' . bin2hex(random_bytes(8));
        // Shop 1: two cancels (their tickets succeed) and a ship without a
        // tracking number (its ticket fails; MAX_ATTEMPTS 1: given up).
        // Shop 2: one update, and a token the API refuses.
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        $this->save(2, $this->snapshot(102, self::CANCELLED));
        $this->save(3, $this->snapshot(103, self::SHIPPED, ['tracking_number' => '', 'tracking_url' => '']));
        $this->save(21, $this->snapshot(121, self::CANCELLED), ['id_shop' => 2]);
    }

    /**
     * Two cron runs in a process with these loggers.
     *
     * @return array{0: array, 1: string} what the child reports, its stderr
     */
    private function runChild(string $mode): array
    {
        $cmd = TestEnv::phpCommand();
        $cmd[] = TestEnv::$root . '/tests/php/fixtures/cron-log-child.php';
        array_push($cmd, $mode, '2', $this->dir . '/locks-' . $mode);
        [$code, $out, $err] = TestEnv::run($cmd, ['CRON_LOG_TOKEN_1' => self::TOKEN, 'CRON_LOG_TOKEN_2' => $this->badToken]);
        $this->assertSame(0, $code, "child ($mode) failed:\n$out\n$err");
        $report = json_decode($out, true);
        $this->assertIsArray($report, "child ($mode) printed no JSON:\n$out\n$err");
        foreach ($report['answers'] as $answer) {
            $this->assertTrue($answer['success'], 'the cron ran');
        }
        // The first run sent shop 1's three updates, the second read their tickets.
        $this->assertSame(3, $report['answers'][0]['data']['summary'][1]['sent']);
        $this->assertSame('error', $report['answers'][0]['data']['summary'][2]['status']);
        $this->assertSame(3, $report['answers'][1]['data']['summary'][1]['checked']);

        return [$report, $err];
    }

    /** Every secret the runs knew, none of which may be written. */
    private function assertNoSecret(string $text): void
    {
        $this->assertStringNotContainsString(self::TOKEN, $text, 'never the API token');
        $this->assertStringNotContainsString($this->badToken, $text, 'never a refused token either');
        foreach (method_exists('TestEnv', 'storeSecrets') ? TestEnv::storeSecrets() : [] as $label => $secret) {
            $this->assertStringNotContainsString($secret, $text, "never $label");
        }
    }

    /** The lines a run writes, whatever the logger: checked the same way for each. */
    private function assertRunLines(array $messages, array $errorMessages): void
    {
        $all = implode("\n", $messages);
        $this->assertMatchesRegularExpression('/^Order sync run: 2 shop\(s\), sent 3, tickets read 0, settled 0 \(done 0, retry later 0, failed 0\), errors 1; [0-9.]+ s$/m', $all, "run 1's line:\n$all");
        $this->assertMatchesRegularExpression('/^Order sync run: 2 shop\(s\), sent 0, tickets read 3, settled 3 \(done 2, retry later 0, failed 1\), errors 1; [0-9.]+ s$/m', $all, "run 2's line");
        $this->assertMatchesRegularExpression('/^Shop 1: done; sent 3, tickets read 0, settled 0/m', $all);
        $this->assertMatchesRegularExpression('/^Shop 1: done; sent 0, tickets read 3, settled 3 \(done 2, retry later 0, failed 1\)/m', $all);
        $errors = implode("\n", $errorMessages);
        $this->assertMatchesRegularExpression('/^Shop 2: error; .* - ShoppingfeedApiException: /m', $errors, "shop 2's refusal is an error line:\n$errors");
        $this->assertMatchesRegularExpression('/^Order 3 \(shop 1\): ship given up: .*tracking/mi', $errors, 'the order given up, with its reason');
        $this->assertStringNotContainsString('Shop 1: done', $errors, 'a shop that went well is information, not an error');
        $this->assertNoSecret($all);
    }

    public function testTheProcessLoggerGetsTheRunWhenClasslibIsThere(): void
    {
        [$report, $err] = $this->runChild('process_logger');
        $this->assertSame(['process_logger', 'process_logger'], $report['targets']);
        $log = $report['process_logger'];
        $this->assertSame(2, $log['opened'], 'openLogger once a run');
        $this->assertSame(2, $log['closed'], 'closeLogger once a run: the lines are written');
        $this->assertSame([], $log['pending'], 'no line left unwritten');
        $this->assertSame([], $report['prestashop_logger'], "PrestaShop's logger is not used when the process logger is there");

        $messages = array_column($log['saved'], 'msg');
        $errors = array_column(array_filter($log['saved'], static function (array $l): bool {
            return $l['level'] === 'error';
        }), 'msg');
        $this->assertRunLines($messages, $errors);
        foreach ($log['saved'] as $line) {
            $this->assertContains($line['level'], ['info', 'error']);
            $this->assertSame('shoppingfeed:ShoppingfeedSyncOrderPostImportModuleFrontController', $line['name'], 'filed under the cron process');
        }
        $shopLines = array_values(array_filter($log['saved'], static function (array $l): bool {
            return strpos($l['msg'], 'Shop 2:') === 0;
        }));
        $this->assertNotEmpty($shopLines);
        $this->assertSame(['Shop', 2], [$shopLines[0]['object_name'], $shopLines[0]['object_id']], 'a shop line names its shop');
        $orderLine = array_values(array_filter($log['saved'], static function (array $l): bool {
            return strpos($l['msg'], 'Order 3 ') === 0;
        }));
        $this->assertSame(['Order', 3], [$orderLine[0]['object_name'], $orderLine[0]['object_id']], 'an order line names its order');
        $this->assertNoSecret($err);
        $this->assertSame('', $err, 'nothing on stderr');
    }

    public function testPrestaShopsLoggerWhenThereIsNoProcessLogger(): void
    {
        [$report, $err] = $this->runChild('prestashop_logger');
        $this->assertSame(['prestashop_logger', 'prestashop_logger'], $report['targets']);
        $this->assertNull($report['process_logger']);
        $logs = $report['prestashop_logger'];
        $prefix = 'Shopping Feed order sync: ';
        $messages = [];
        $errors = [];
        foreach ($logs as $log) {
            $this->assertStringStartsWith($prefix, $log['message']);
            $this->assertSame('Shoppingfeed', $log['object_type']);
            $this->assertContains($log['severity'], [1, 3], 'information or error');
            $message = substr($log['message'], strlen($prefix));
            $messages[] = $message;
            if ($log['severity'] === 3) {
                $errors[] = $message;
            }
        }
        $this->assertRunLines($messages, $errors);
        $this->assertSame('', $err, 'nothing on stderr');
    }

    public function testStderrWhenNeitherLoggerIsThere(): void
    {
        [$report, $err] = $this->runChild('stderr');
        $this->assertSame(['stderr', 'stderr'], $report['targets']);
        $this->assertNull($report['process_logger']);
        $this->assertNull($report['prestashop_logger']);
        $messages = [];
        $errors = [];
        foreach (explode("\n", trim($err)) as $line) {
            $this->assertMatchesRegularExpression('/^\[shoppingfeed_sync\] /', $line, 'every stderr line is the run log\'s');
            $line = substr($line, strlen('[shoppingfeed_sync] '));
            if (strpos($line, 'error: ') === 0) {
                $line = substr($line, strlen('error: '));
                $errors[] = $line;
            }
            $messages[] = $line;
        }
        $this->assertRunLines($messages, $errors);
    }

    public function testAProcessLoggerThatFailsHandsOverToPrestaShopsLogger(): void
    {
        [$report, $err] = $this->runChild('process_logger_down');
        $this->assertSame('prestashop_logger', $report['targets'][0], 'run 1: the process logger could not open');
        $this->assertSame('process_logger', $report['targets'][1], 'run 2 (a new controller) finds the process logger again');
        $text = implode("\n", array_column($report['prestashop_logger'], 'message'));
        $this->assertStringNotContainsString('tickets read 3', $text, "run 2's lines are not in PrestaShop's logger");
        $saved = implode("\n", array_column($report['process_logger']['saved'], 'msg'));
        $this->assertMatchesRegularExpression('/^Order sync run: 2 shop\(s\), sent 0, tickets read 3/m', $saved, "but in the process log");
        $this->assertStringNotContainsString('sent 3', $saved, "run 1's lines are not lost nor doubled");
        $this->assertStringContainsString('the process logger failed (RuntimeException: SQLSTATE[HY000] [2002] Connection refused); the log continues here', $text);
        $this->assertMatchesRegularExpression('/Order sync run: 2 shop\(s\), sent 3/', $text, 'the run is still logged');
        $this->assertNoSecret($text . $err);
    }

    /** The run log's own guard: known secrets and URL passwords never reach a line. */
    public function testLinesAreScrubbedOfTokensAndDatabasePasswords(): void
    {
        $old = ini_get('shoppingfeed_sync.database');
        ini_set('shoppingfeed_sync.database', 'mysql://shop:p%40ss-w0rd-x@db.internal:3306/prestashop?prefix=ps_');
        try {
            $log = new ShoppingfeedOrderSyncRunLog(ShoppingfeedOrderSyncRunLog::TARGET_PRESTASHOP_LOGGER);
        } finally {
            ini_set('shoppingfeed_sync.database', (string) $old);
        }
        $log->addSecret('tok-0123456789');
        $log->error('queue mysql://shop:p%40ss-w0rd-x@db.internal:3306/prestashop unreachable; as typed: p@ss-w0rd-x');
        $log->error('Authorization: Bearer tok-0123456789 refused');
        $log->info('a URL with credentials https://user:hunter22@example.com/path');
        $text = PrestaShopLogger::text();
        $this->assertStringNotContainsString('p%40ss-w0rd-x', $text);
        $this->assertStringNotContainsString('p@ss-w0rd-x', $text, 'the decoded password too');
        $this->assertStringNotContainsString('tok-0123456789', $text);
        $this->assertStringNotContainsString('hunter22', $text);
        $this->assertStringContainsString('mysql://shop:***@db.internal:3306/prestashop unreachable', $text, 'the rest of the line stays');
        $this->assertCount(3, PrestaShopLogger::$logs);
    }

    public function testAnUnknownOrMissingTargetIsRefusedClearly(): void
    {
        try {
            new ShoppingfeedOrderSyncRunLog('syslog');
            $this->fail('an unknown target is refused');
        } catch (InvalidArgumentException $e) {
            $this->assertStringContainsString("unknown target 'syslog'", $e->getMessage());
        }
        $this->expectException(InvalidArgumentException::class);
        $this->expectExceptionMessage('ProcessLoggerHandler is not available');
        new ShoppingfeedOrderSyncRunLog(ShoppingfeedOrderSyncRunLog::TARGET_PROCESS_LOGGER);
    }
}
