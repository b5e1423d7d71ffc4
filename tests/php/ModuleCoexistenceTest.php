<?php

/**
 * The v2 name: today's Shopping Feed module declares its own
 * ShoppingfeedOrder (an ObjectModel with static finders), so the extension
 * declares none (its queue class is ShoppingfeedOrderSyncQueue) and both
 * work in one process.
 */
final class ModuleCoexistenceTest extends SyncTestCase
{
    public function testTheExtensionDeclaresNoShoppingfeedOrder(): void
    {
        $this->assertFalse(class_exists('ShoppingfeedOrder', false), 'the extension declares no class ShoppingfeedOrder');
        $names = array_map('strtolower', (new ReflectionExtension('shoppingfeed_sync'))->getClassNames());
        $this->assertNotContains('shoppingfeedorder', $names, 'not even an alias');
        $this->assertContains('shoppingfeedordersyncqueue', $names);
        $this->assertTrue((new ReflectionClass('ShoppingfeedOrderSyncQueue'))->isFinal());
    }

    /**
     * Today's module calls ShoppingfeedOrderSyncActions::getLogPrefix($idOrder)
     * in addOrderTask() and in its order import's error path, outside any
     * try: the extension's class of that name answers it as the module's did.
     */
    public function testTheModulesStaticGetLogPrefixIsAnswered(): void
    {
        $this->assertSame('[Order: 12]', ShoppingfeedOrderSyncActions::getLogPrefix(12));
        $this->assertSame('[Order: 12]', ShoppingfeedOrderSyncActions::getLogPrefix('12'));
        $this->assertSame('[Order: ]', ShoppingfeedOrderSyncActions::getLogPrefix());
        $this->assertSame('[Order: ]', ShoppingfeedOrderSyncActions::getLogPrefix(null));
        $this->assertSame('[Order: 7]', ShoppingfeedOrderSyncStatusActions::getLogPrefix(7));
        // Whatever the module hands it, it never throws.
        $this->assertSame('[Order: ]', ShoppingfeedOrderSyncActions::getLogPrefix([1, 2]));
        $this->assertSame('[Order: ]', ShoppingfeedOrderSyncActions::getLogPrefix(new stdClass()));
        $method = new ReflectionMethod('ShoppingfeedOrderSyncActions', 'getLogPrefix');
        $this->assertTrue($method->isStatic() && $method->isPublic());
    }

    public function testTheModulesShoppingfeedOrderAndTheQueueWorkInOneProcess(): void
    {
        $fixture = __DIR__ . '/fixtures/module-beside-extension.php';
        [$code, $out, $err] = TestEnv::run(array_merge(TestEnv::phpCommand(), [$fixture, json_encode($this->conveyor())]));
        $this->assertSame(0, $code, "the shop's process ends normally: $err");
        $this->assertSame('', $err, 'no warning, no fatal "cannot declare class"');
        $account = json_decode($out, true);
        $this->assertIsArray($account, $out);

        // The module's class: declared by the module's file, and usable.
        $this->assertFalse($account['declared_before'], 'nothing declared ShoppingfeedOrder before the module');
        $this->assertSame(__DIR__ . '/fixtures/module/ShoppingfeedOrder.php', $account['module_class']['file']);
        $this->assertFalse($account['module_class']['internal'], 'the class is the PHP one, not an internal class');
        $this->assertSame('ObjectModel', $account['module_class']['parent']);
        $this->assertSame(1, $account['id_from_order_id']);
        $this->assertSame(['id' => 1, 'id_internal_shoppingfeed' => 9101, 'name_marketplace' => 'amazon'], $account['by_id_order']);
        $this->assertSame(1, $account['id_from_order_id_after'], "the module's records stay its own");

        // The extension's queue and Actions in the same process.
        $this->assertTrue($account['saved']);
        $this->assertTrue($account['chain'], 'getBatch, prepareBatch, sendBatch');
        $this->assertCount(1, $account['rows']);
        $row = $account['rows'][0];
        $this->assertSame(101, $row['id_order']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS, $row['action']);
        $this->assertSame([$row['id_shoppingfeed_order']], $account['sent']);
        $this->assertSame(9101, $row['payload']['id_internal_shoppingfeed'], "the snapshot named the order by the module's record");
        $this->assertSame(1, $account['counts']['sent']);
        $this->assertSame(['SYNC_STATUS', 'CHECK_TICKET_SYNC_STATUS'], $account['action_constants']);
        $this->assertNotContains('ShoppingfeedOrder', $account['extension_classes']);

        // The shop's API got the order, and this process sees the same queue.
        $elements = array_merge(...array_column(Sandbox::orderPosts(), 'elements'));
        $this->assertSame([9101], array_column($elements, 'id'));
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(101)['state']);
    }
}
