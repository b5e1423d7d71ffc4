<?php

/**
 * The extension as PHP sees it: version, INI settings, phpinfo section,
 * exceptions, the conveyor round trip, and the module file that explains a
 * missing extension.
 */
final class ExtensionTest extends SyncTestCase
{
    public function testLoadedWithAVersion(): void
    {
        $this->assertTrue(extension_loaded('shoppingfeed_sync'));
        $version = phpversion('shoppingfeed_sync');
        $this->assertIsString($version);
        $this->assertMatchesRegularExpression('/^\d+\.\d+\.\d+/', $version);
    }

    public function testIniSettingsWithTheirDocumentedDefaults(): void
    {
        $all = ini_get_all('shoppingfeed_sync');
        $this->assertSame('/var/lib/shoppingfeed_sync/queue.sqlite', $all['shoppingfeed_sync.database']['global_value']);
        $this->assertSame('https://api.shopping-feed.com', $all['shoppingfeed_sync.api_url']['global_value']);
        $this->assertSame('3000', $all['shoppingfeed_sync.timeout_ms']['global_value']);
        foreach ($all as $name => $entry) {
            $this->assertSame(INI_ALL, $entry['access'], "$name is PHP_INI_ALL");
        }
        $this->assertSame($this->database, ini_get('shoppingfeed_sync.database'), 'ini_set() works');
    }

    public function testPhpInfoSectionAndReflectionFromTheCommandLine(): void
    {
        [$code, $out] = TestEnv::run([PHP_BINARY, '-d', 'extension=' . TestEnv::$extension, '--ri', 'shoppingfeed_sync']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString('shoppingfeed_sync', $out);
        $this->assertStringContainsString((string) phpversion('shoppingfeed_sync'), $out, 'the section shows the version');
        $this->assertStringContainsString('shoppingfeed_sync.database', $out, 'and the INI settings');

        [$code, $out] = TestEnv::run([PHP_BINARY, '-d', 'extension=' . TestEnv::$extension, '--re', 'shoppingfeed_sync']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString('ShoppingfeedOrderSyncStatusActions', $out);
    }

    public function testExceptionHierarchy(): void
    {
        $e = new ShoppingfeedApiException('down');
        $this->assertInstanceOf(ShoppingfeedSyncException::class, $e);
        $this->assertInstanceOf(RuntimeException::class, $e);
        $this->assertSame('down', $e->getMessage());
        $this->assertSame(__FILE__, $e->getFile());
        try {
            $this->actions(['id_shop' => 1])->getBatch();
            $this->fail('getBatch without order_action');
        } catch (ShoppingfeedSyncException $thrown) {
            $this->assertNotSame('', $thrown->getTraceAsString(), 'a trace like any PHP exception');
            $this->assertSame(__FILE__, $thrown->getTrace()[0]['file'] ?? $thrown->getFile());
        }
    }

    public function testTheConveyorRoundTrips(): void
    {
        $conveyor = [
            'id_shop' => 1,
            'order_action' => 'SYNC_STATUS',
            'custom' => ['list' => [1, 'two', 3.5, true, null], 'map' => ['x' => 'y', 'deep' => ['z' => 0]]],
            'text' => "line\nwith unicode \u{00e9}",
        ];
        $actions = new ShoppingfeedOrderSyncStatusActions();
        $this->assertSame($actions, $actions->setConveyor($conveyor));
        $this->assertSame($conveyor, $actions->getConveyor(), 'unknown keys and values kept as given');
        $this->assertSame($actions, $actions->setModelObject(new stdClass()));
        $this->assertSame($actions, $actions->setModelObject(null));
        $this->assertSame([], (new ShoppingfeedOrderSyncStatusActions())->getConveyor(), 'a new object has an empty conveyor');
        $this->assertSame($conveyor, $actions->setConveyor($conveyor)->getConveyor());
    }

    public function testTheStatusActionsFileExplainsAMissingExtension(): void
    {
        $script = 'require ' . var_export(TestEnv::$root . '/php/tools/lib/standalone.php', true) . ';'
            . ' require ' . var_export(TestEnv::$root . '/php/module/classes/actions/ShoppingfeedOrderSyncStatusActions.php', true) . ';';
        [$code, $out, $err] = TestEnv::run([PHP_BINARY, '-d', 'display_errors=stderr', '-d', 'log_errors=0', '-r', $script]);
        $this->assertNotSame(0, $code, 'without the extension the file stops');
        $this->assertStringContainsString('shoppingfeed_sync', $out . $err);
        $this->assertStringContainsString('not loaded', $out . $err);
    }

    public function testTheStatusActionsFileIsSilentWithTheExtension(): void
    {
        ob_start();
        include TestEnv::$root . '/php/module/classes/actions/ShoppingfeedOrderSyncStatusActions.php';
        $this->assertSame('', ob_get_clean());
        $this->assertTrue(class_exists('ShoppingfeedOrderSyncStatusActions', false));
    }
}
