<?php

/**
 * php/tools/bin/sync-orders.php: the cron from the command line (standalone
 * stand-ins of php/tools/lib/standalone.php, run as a black box).
 */
final class CliTest extends SyncTestCase
{
    private function cli(array $args, array $env = ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN], bool $withExtension = true): array
    {
        $cmd = $withExtension ? TestEnv::phpCommand() : [PHP_BINARY, '-d', 'display_errors=stderr'];
        $cmd[] = TestEnv::$root . '/php/tools/bin/sync-orders.php';

        return TestEnv::run(array_merge($cmd, $args), $env);
    }

    private function defaults(array $more = []): array
    {
        return array_merge([
            '--shop=1', '--store-id=42', '--lock-dir=' . $this->dir . '/cli-locks',
            '--set', 'SHOPPINGFEED_CANCELLED_ORDERS=[6]', '--set', 'SHOPPINGFEED_SHIPPED_ORDERS=[4]',
            '--set', 'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT=0',
        ], $more);
    }

    public function testSendsThenChecksWithTheTokenFromTheEnvironment(): void
    {
        for ($i = 1; $i <= 3; $i++) {
            $this->save($i, $this->snapshot(100 + $i, $i === 2 ? self::SHIPPED : self::CANCELLED));
        }
        [$code, $out, $err] = $this->cli($this->defaults(['--json', '--database=' . $this->database, '--api-url=' . Sandbox::url()]));
        $this->assertSame(0, $code, $err);
        $result = json_decode($out, true);
        $this->assertIsArray($result, $out);
        $this->assertSame(3, $result['summary'][1]['sent']);
        $this->assertSame('done', $result['summary'][1]['status']);

        [$code, $out, $err] = $this->cli($this->defaults(['--json']));
        $this->assertSame(0, $code, $err);
        $result = json_decode($out, true);
        $this->assertSame(3, $result['summary'][1]['succeeded']);
        $this->assertSame(3, ShoppingfeedOrderSyncQueue::counts(1)['done']);
        $this->assertStringNotContainsString(self::TOKEN, $out . $err);
        $this->assertNoStoreSecret($out . $err, 'the CLI\'s output');
    }

    public function testHumanReadableOutput(): void
    {
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        [$code, $out, $err] = $this->cli($this->defaults());
        $this->assertSame(0, $code, $err);
        $this->assertMatchesRegularExpression('/^shop 1: done; sent 1\b/m', $out);
    }

    public function testARejectedTokenExitsWithOne(): void
    {
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        $bad = 'bad-' . bin2hex(random_bytes(6));
        [$code, $out, $err] = $this->cli($this->defaults(['--json', '--token=' . $bad]), []);
        $this->assertSame(1, $code, $out . $err);
        $result = json_decode($out, true);
        $this->assertSame('error', $result['summary'][1]['status']);
        $this->assertStringNotContainsString($bad, $out . $err);
        $this->assertNoStoreSecret($out . $err, 'the CLI\'s output');
        $this->assertSame(0, $this->rowOf(1)['attempts']);
    }

    public function testAFreshLockMakesItExitWithThree(): void
    {
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        @mkdir($this->dir . '/cli-locks', 0700, true);
        file_put_contents($this->dir . '/cli-locks/shoppingfeed-ShoppingfeedSyncOrderPostImportModuleFrontController.lock', (string) time());
        [$code, $out, $err] = $this->cli($this->defaults());
        $this->assertSame(3, $code, $out . $err);
        $this->assertStringContainsString('lock', $err);
        $this->assertSame([], Sandbox::apiRequests());
    }

    public function testANonLoopbackHttpUrlIsRefused(): void
    {
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        [$code, $out, $err] = $this->cli($this->defaults(['--api-url=http://api.example.com']));
        $this->assertNotSame(0, $code);
        $this->assertStringContainsString('shoppingfeed_sync.api_url', $out . $err);
        $this->assertSame(0, $this->rowOf(1)['attempts']);
    }

    public function testUsageErrors(): void
    {
        [$code, $out] = $this->cli(['--help']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString('Usage:', $out);
        [$code, , $err] = $this->cli(['--frobnicate']);
        $this->assertSame(2, $code);
        $this->assertStringContainsString('--frobnicate', $err);
        [$code] = $this->cli(['--shop=abc']);
        $this->assertSame(2, $code);
        [$code, , $err] = $this->cli(['--shop=1'], [], false);
        $this->assertSame(4, $code, 'without the extension');
        $this->assertStringContainsString('not loaded', $err);
    }
}
