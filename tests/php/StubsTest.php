<?php

require_once __DIR__ . '/support/ReflectionDump.php';

/**
 * stubs/shoppingfeed_sync.stub.php describes exactly what the loaded
 * extension declares: the stubs are declared in a child PHP without the
 * extension and both sides are compared through Reflection.
 */
final class StubsTest extends SyncTestCase
{
    /** @var array|null */
    private static $stubs;

    private function stubs(): array
    {
        if (self::$stubs === null) {
            [$code, $out, $err] = TestEnv::run([PHP_BINARY, '-d', 'display_errors=stderr', __DIR__ . '/fixtures/dump-stubs.php', TestEnv::$root . '/stubs/shoppingfeed_sync.stub.php']);
            $this->assertSame(0, $code, "the stubs load in a PHP without the extension: $err");
            self::$stubs = json_decode($out, true);
            $this->assertIsArray(self::$stubs, $out);
        }

        return self::$stubs;
    }

    private function extension(): array
    {
        $ext = new ReflectionExtension('shoppingfeed_sync');

        return sfsync_reflection_dump($ext->getClassNames());
    }

    public function testTheSameClasses(): void
    {
        $stubClasses = array_keys($this->stubs()['classes']);
        $extClasses = array_keys($this->extension());
        sort($stubClasses);
        sort($extClasses);
        $this->assertSame($stubClasses, $extClasses, 'every class of the extension is in the stubs and nothing more');
        foreach (['ShoppingfeedOrderSyncQueue', 'ShoppingfeedOrderSyncActions', 'ShoppingfeedOrderSyncStatusActions', 'ShoppingfeedSyncException', 'ShoppingfeedApiException'] as $contract) {
            $this->assertContains($contract, $extClasses, "the contract's class $contract");
        }
    }

    public function testClassShapesMatch(): void
    {
        $stubs = $this->stubs()['classes'];
        foreach ($this->extension() as $name => $ext) {
            if (!isset($stubs[$name])) {
                continue; // reported by testTheSameClasses
            }
            foreach (['parent', 'abstract', 'final', 'interface', 'interfaces'] as $aspect) {
                $this->assertSame($stubs[$name][$aspect], $ext[$aspect], "$name: $aspect");
            }
        }
        $ext = $this->extension();
        $this->assertTrue($ext['ShoppingfeedOrderSyncQueue']['final'], 'final class ShoppingfeedOrderSyncQueue');
        $this->assertTrue($ext['ShoppingfeedOrderSyncActions']['abstract'], 'abstract class ShoppingfeedOrderSyncActions');
        $this->assertSame('ShoppingfeedOrderSyncActions', $ext['ShoppingfeedOrderSyncStatusActions']['parent']);
        $this->assertSame('RuntimeException', $ext['ShoppingfeedSyncException']['parent']);
        $this->assertSame('ShoppingfeedSyncException', $ext['ShoppingfeedApiException']['parent']);
    }

    public function testConstantsMatch(): void
    {
        $stubs = $this->stubs()['classes'];
        foreach ($this->extension() as $name => $ext) {
            if (isset($stubs[$name])) {
                $this->assertSame($stubs[$name]['constants'], $ext['constants'], "$name: constants and values");
            }
        }
        $this->assertSame('SYNC_STATUS', ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS);
        $this->assertSame('CHECK_TICKET_SYNC_STATUS', ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS);
        $this->assertSame(
            ['SYNC_INVOICE', 'CHECK_TICKET_SYNC_INVOICE', 'SYNC_REFUND', 'CHECK_TICKET_SYNC_REFUND'],
            [ShoppingfeedOrderSyncQueue::ACTION_SYNC_INVOICE, ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_INVOICE, ShoppingfeedOrderSyncQueue::ACTION_SYNC_REFUND, ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_REFUND],
            'the v2 actions of the contract'
        );
        $this->assertSame(['pending', 'sent', 'done', 'failed'], [ShoppingfeedOrderSyncQueue::STATE_PENDING, ShoppingfeedOrderSyncQueue::STATE_SENT, ShoppingfeedOrderSyncQueue::STATE_DONE, ShoppingfeedOrderSyncQueue::STATE_FAILED]);
    }

    public function testMethodListsMatch(): void
    {
        $stubs = $this->stubs()['classes'];
        foreach ($this->extension() as $name => $ext) {
            if (isset($stubs[$name])) {
                $this->assertSame(array_keys($stubs[$name]['methods']), array_keys($ext['methods']), "$name: public methods");
            }
        }
    }

    public function testMethodSignaturesMatch(): void
    {
        $stubs = $this->stubs()['classes'];
        $differences = [];
        foreach ($this->extension() as $name => $ext) {
            foreach ($ext['methods'] as $method => $signature) {
                $stub = $stubs[$name]['methods'][$method] ?? null;
                if ($stub === null) {
                    continue; // reported by testMethodListsMatch
                }
                foreach (['static', 'abstract', 'final', 'return'] as $aspect) {
                    if ($stub[$aspect] !== $signature[$aspect]) {
                        $differences[] = sprintf('%s::%s %s: stub %s, extension %s', $name, $method, $aspect, json_encode($stub[$aspect]), json_encode($signature[$aspect]));
                    }
                }
                $stubParams = self::paramsWithout($stub['params'], ['default']);
                $extParams = self::paramsWithout($signature['params'], ['default']);
                if ($stubParams !== $extParams) {
                    $differences[] = sprintf('%s::%s parameters: stub %s, extension %s', $name, $method, json_encode($stubParams), json_encode($extParams));
                }
            }
        }
        $this->assertSame([], $differences, "signatures differ:\n" . implode("\n", $differences));
    }

    public function testParameterDefaultsMatch(): void
    {
        $stubs = $this->stubs()['classes'];
        $differences = [];
        foreach ($this->extension() as $name => $ext) {
            foreach ($ext['methods'] as $method => $signature) {
                $stub = $stubs[$name]['methods'][$method] ?? null;
                if ($stub === null || count($stub['params']) !== count($signature['params'])) {
                    continue;
                }
                foreach ($signature['params'] as $i => $param) {
                    if ($param['default'] !== $stub['params'][$i]['default']) {
                        $differences[] = sprintf('%s::%s($%s) default: stub %s, extension %s', $name, $method, $param['name'], $stub['params'][$i]['default'], $param['default']);
                    }
                }
            }
        }
        $this->assertSame([], $differences, "defaults differ:\n" . implode("\n", $differences));
    }

    public function testNoUndocumentedFunctionsOrConstants(): void
    {
        $ext = new ReflectionExtension('shoppingfeed_sync');
        $functions = array_keys($ext->getFunctions());
        sort($functions);
        $this->assertSame($this->stubs()['functions'], $functions, 'global functions');
        $constants = array_keys($ext->getConstants());
        sort($constants);
        $this->assertSame($this->stubs()['constants'], $constants, 'global constants');
    }

    public function testEveryIniEntryIsDocumentedInTheStubs(): void
    {
        $stubText = (string) file_get_contents(TestEnv::$root . '/stubs/shoppingfeed_sync.stub.php');
        $entries = array_keys((new ReflectionExtension('shoppingfeed_sync'))->getINIEntries());
        foreach (['shoppingfeed_sync.database', 'shoppingfeed_sync.api_url', 'shoppingfeed_sync.timeout_ms'] as $required) {
            $this->assertContains($required, $entries);
        }
        foreach ($entries as $entry) {
            $this->assertStringContainsString($entry, $stubText, "the INI entry $entry is documented in the stubs");
        }
    }

    private static function paramsWithout(array $params, array $keys): array
    {
        return array_map(static function (array $param) use ($keys) {
            return array_diff_key($param, array_flip($keys));
        }, $params);
    }
}
