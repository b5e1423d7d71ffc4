<?php
/**
 * The whole takeover in one shop, as a merchant lives it: today's module
 * (its stand-in, with its class names) with two active tokens, one per
 * Shopping Feed store, a module queue holding a task it never sent, then
 * the installer (php/tools/bin/shoppingfeed-takeover.php install), state
 * changes made through PrestaShop (the hook), a ship whose tracking number
 * is typed later, a state change written by a payment module's webhook (no
 * hook), the module's own cron URLs (cli.php controller=syncOrder and
 * syncAll, through the Dispatcher and our overrides), and finally the
 * installer's remove.
 *
 * What must come out: each update as one request to the right store, with
 * that store's token (the sandbox gives each token its own store only),
 * none twice, none lost; and after remove, the module's folder and the
 * override folder as they were before install.
 */
final class EndToEndTest extends PrestashopTestCase
{
    const TOKEN_11 = 'token-of-store-eleven-3e1f';
    const TOKEN_22 = 'token-of-store-twenty-two-77aa';
    const TRACKING_HOOKS = ['actionAdminOrdersTrackingNumberUpdate', 'actionObjectOrderCarrierUpdateAfter'];

    public function testTwoStoresStatusChangesALateTrackingNumberAWebhookAndTheModulesQueueEndAsTheRightRequests(): void
    {
        Sandbox::config(['store_ids' => [11, 22], 'tokens' => [self::TOKEN_11, self::TOKEN_22],
            'token_stores' => [self::TOKEN_11 => [11], self::TOKEN_22 => [22]]]);
        $t11 = $this->token(self::SHOP, self::TOKEN_11, 11);
        $t22 = $this->token(self::SHOP, self::TOKEN_22, 22);
        $carrier = $this->carrier('Colissimo', 'https://track.example/?n=@');
        $order = function (int $idToken, int $idInternal, string $tracking, int $state = self::PAYMENT_ACCEPTED) use ($carrier): array {
            return $this->importedOrder($idToken, ['id_carrier' => $carrier, 'tracking_number' => $tracking,
                'id_internal' => $idInternal, 'reference' => 'MP-' . $idInternal, 'state' => $state]);
        };
        $a = $order($t11, 1001, 'TRK-A');                    // shipped through the back office
        $b = $order($t22, 2002, '');                          // cancelled through the back office
        $c = $order($t22, 2003, 'TRK-C', self::SHIPPED);      // shipped before install: the module's task never sent
        $d = $order($t11, 1004, '');                          // shipped, its tracking number typed later
        $e = $order($t22, 2005, 'TRK-E', self::SHIPPED);      // delivered by a webhook (no hook)
        $plain = $this->plainOrder(['id_carrier' => $carrier, 'tracking_number' => 'TRK-P']);
        $now = date('Y-m-d H:i:s');
        foreach ([$c['id_order'], $e['id_order']] as $idOrder) {
            Db::getInstance()->insert('order_history', ['id_order' => $idOrder, 'id_order_state' => self::SHIPPED,
                'id_employee' => 0, 'date_add' => $now]);
        }
        Db::getInstance()->insert('shoppingfeed_task_order', ['action' => 'SYNC_STATUS', 'id_order' => $c['id_order'],
            'date_add' => $now, 'date_upd' => $now]);
        $before = $this->trees();

        // 1. Install (twice: the second run changes nothing).
        $install = $this->installer('install');
        $this->assertStringContainsString('task orders of the module migrated', $install['stdout']);
        $this->assertSame([], $this->taskOrders(), 'the module\'s pending task moved to the extension\'s queue');
        $this->assertSame('pending', self::state($c['id_order']));
        $again = $this->installer('install');
        $this->assertCount(1, ShoppingfeedOrderSyncQueue::find($c['id_order']), 'a second install adds nothing');
        $this->assertStringNotContainsString('placed ', $again['stdout'], 'nothing placed again: ' . $again['stdout']);

        // 2. The merchant's day: two state changes and a ship without its number, through PrestaShop.
        $run = $this->runInShop('foreach ([[' . $a['id_order'] . ', ' . self::SHIPPED . '], [' . $b['id_order'] . ', ' . self::CANCELLED
            . '], [' . $d['id_order'] . ', ' . self::SHIPPED . '], [' . $plain . ', ' . self::SHIPPED . ']] as [$o, $s]) {'
            . ' (new OrderHistory())->changeIdOrderState($s, $o); }');
        $this->assertQuietChild($run);
        // A payment module's webhook writes the state itself: no hook runs.
        Db::getInstance()->insert('order_history', ['id_order' => $e['id_order'], 'id_order_state' => self::DELIVERED,
            'id_employee' => 0, 'date_add' => date('Y-m-d H:i:s')]);
        Db::getInstance()->update('orders', ['current_state' => self::DELIVERED], 'id_order = ' . (int) $e['id_order']);
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($e['id_order']), 'the hook never saw it');
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($plain), 'not a Shopping Feed order');

        // 3. The module's cron: everything but the ship waiting for its number.
        $this->assertQuietChild($this->runCron('syncOrder'));
        $this->assertSame([
            '/v1/store/11/order/ship' => [1001],
            '/v1/store/22/order/cancel' => [2002],
            '/v1/store/22/order/deliver' => [2005],
            '/v1/store/22/order/ship' => [2003],
        ], self::sentByPath(), 'each store gets its own orders');
        $this->assertSame('pending', self::state($d['id_order']), 'waiting for its tracking number');
        $this->assertSame(0, ShoppingfeedOrderSyncQueue::find($d['id_order'])[0]['attempts'] ?? null, 'waiting costs no attempt');

        // 4. The tracking number arrives (an OrderCarrier saved: back office, webservice, carrier module).
        $this->assertQuietChild($this->runInShop('$oc = new OrderCarrier(' . $d['id_order_carrier'] . ');'
            . ' $oc->tracking_number = "LATE-D"; $oc->update();'));
        $this->assertQuietChild($this->runCron('syncAll'));
        $this->assertQuietChild($this->runCron('syncOrder'));

        $sent = self::sentByPath();
        $this->assertSame([1001, 1004], $sent['/v1/store/11/order/ship'] ?? null, 'the late ship, once');
        $this->assertCount(4, $sent, 'nothing else: ' . json_encode($sent));
        $late = self::element(1004);
        $this->assertSame('LATE-D', $late['trackingNumber'] ?? null, json_encode($late));
        $this->assertSame('https://track.example/?n=LATE-D', $late['trackingLink'] ?? null);
        $this->assertSame('TRK-A', self::element(1001)['trackingNumber'] ?? null);
        foreach (Sandbox::orderPosts() as $post) {
            $this->assertTrue($post['auth_ok'], 'each store\'s own token: ' . json_encode($post));
        }
        foreach ([$a, $b, $c, $d, $e] as $o) {
            $this->assertContains(self::state($o['id_order']), ['sent', 'done'], 'order ' . $o['id_order'] . ' settled or on its way');
        }
        $this->assertSame([], $this->taskOrders(), 'the module\'s own queue stays unused');
        $this->assertSame([], $this->moduleCalls('send'), 'the module\'s own sync never ran');
        foreach ($this->processLogs() as $line) {
            foreach ([self::TOKEN_11, self::TOKEN_22] as $token) {
                $this->assertStringNotContainsString($token, (string) $line['msg']);
            }
        }

        // 5. Remove: the module as it was.
        $remove = $this->installer('remove');
        $this->assertStringContainsString('removed', $remove['stdout']);
        $this->assertSame($before, $this->trees(), 'modules/shoppingfeed and override/ as before install');
        foreach (self::TRACKING_HOOKS as $hook) {
            $this->assertSame([], $this->rows('hook_module', 'id_module = ' . (int) $this->idModule
                . ' AND id_hook = ' . Hook::getIdByName($hook)), $hook . ' unregistered');
        }
    }

    public function testCreditSlipsAndInvoicesGoThroughTheModulesCronAsRefundsAndUploads(): void
    {
        Sandbox::config(['store_ids' => [11], 'tokens' => [self::TOKEN_11]]);
        $t11 = $this->token(self::SHOP, self::TOKEN_11, 11);
        Configuration::updateValue('SHOPPINGFEED_ALLOW_PARTIAL_REFUND', 1);
        Configuration::updateValue('SHOPPINGFEED_ORDER_INVOICE_SYNC_MARKETPLACES', json_encode(['Amazon']));
        Configuration::updateValue('PS_INVOICE_PREFIX', 'FA');
        $order = $this->importedOrder($t11, ['id_internal' => 1006, 'reference' => 'MP-1006', 'marketplace' => 'amazon', 'products' => [
            ['product_id' => 10, 'product_attribute_id' => 0, 'product_quantity' => 2],
            ['product_id' => 11, 'product_attribute_id' => 5, 'product_quantity' => 1],
        ]]);
        // The marketplace's order, as Shopping Feed knows it: a refund beyond it fails its ticket.
        Sandbox::request('POST', '/_sandbox/orders', ['store' => 11, 'id' => 1006, 'items' => [
            ['reference' => '10', 'quantity' => 2], ['reference' => '11_5', 'quantity' => 1]]]);
        Db::getInstance()->insert('order_invoice', ['id_order' => $order['id_order'], 'number' => 31, 'date_add' => date('Y-m-d H:i:s')]);
        $this->installer('install');
        [$d10, $d11] = $order['id_order_details'];

        // Two credit slips (each its own refund) and the invoice state, through PrestaShop.
        $this->assertQuietChild($this->runInShop('$o = new Order(' . $order['id_order'] . ');'
            . ' OrderSlip::create($o, [' . $d10 . ' => 1], true); OrderSlip::create($o, [' . $d10 . ' => 1, ' . $d11 . ' => 1]);'
            . ' (new OrderHistory())->changeIdOrderState(' . self::PAYMENT_ACCEPTED . ', ' . $order['id_order'] . ');'));
        $this->assertSame([], $this->taskOrders(), 'nothing left to the module');

        // The cron sends; the next one reads the tickets.
        $this->assertQuietChild($this->runCron('syncOrder'));
        $this->assertQuietChild($this->runCron('syncOrder'));

        $refunds = [];
        foreach (Sandbox::orderPosts() as $post) {
            if ($post['path'] === '/v1/store/11/order/refund') {
                $this->assertSame(202, $post['status']);
                $this->assertCount(1, $post['elements'], 'one slip per request');
                $refunds[] = $post['elements'][0]['refund'];
            }
        }
        usort($refunds, static function ($a, $b) {
            return count($a['products']) <=> count($b['products']);
        });
        $this->assertSame([
            ['shipping' => true, 'products' => [['reference' => '10', 'quantity' => 1]]],
            ['shipping' => false, 'products' => [['reference' => '10', 'quantity' => 1], ['reference' => '11_5', 'quantity' => 1]]],
        ], $refunds, 'each slip once, with its own products and shipping flag');
        $uploads = array_values(array_filter(Sandbox::log(), static function ($e) {
            return ($e['path'] ?? '') === '/v1/store/11/order/upload-documents';
        }));
        $this->assertCount(1, $uploads);
        $body = is_array($uploads[0]["body"]) ? $uploads[0]["body"] : json_decode($uploads[0]["body"], true);
        $this->assertSame([['id' => 1006, 'documents' => [['type' => 'invoice']]]], $body['order']);
        $this->assertSame(['FA000031.pdf'], array_column($body['files'], 'name'));
        foreach (ShoppingfeedOrderSyncQueue::find($order['id_order']) as $row) {
            if ($row['action'] !== 'SYNC_STATUS') {
                $this->assertSame('done', $row['state'], json_encode($row));
            }
        }
        $this->assertSame(1, count(array_filter(ShoppingfeedOrderSyncQueue::find($order['id_order']), static function ($r) {
            return $r['action'] === 'CHECK_TICKET_SYNC_INVOICE';
        })));
    }

    /* ------------------------------------------------------------------ */

    /** Runs the installer as README says, from this repository, with the extension loaded. */
    private function installer(string $command): array
    {
        $run = $this->runInShop(ShopRoot::repoDir() . '/php/tools/bin/shoppingfeed-takeover.php', [$command, '--shop=' . $this->root]);
        $this->assertChildOk($run, 'shoppingfeed-takeover.php ' . $command);
        foreach ([self::TOKEN_11, self::TOKEN_22] as $token) {
            $this->assertStringNotContainsString($token, $run['stdout'] . $run['stderr']);
        }

        return $run;
    }

    private function assertQuietChild(array $run): void
    {
        $this->assertChildOk($run);
        $this->assertSame('', $run['stderr'], 'no warning, no error');
    }

    /** The state of an order's status row (SYNC_STATUS, CHECK_TICKET_SYNC_STATUS once sent) in the extension's queue (null: none). */
    private static function state(int $idOrder): ?string
    {
        foreach (ShoppingfeedOrderSyncQueue::find($idOrder) as $row) {
            if (in_array($row['action'], ['SYNC_STATUS', 'CHECK_TICKET_SYNC_STATUS'], true)) {
                return $row['state'];
            }
        }

        return null;
    }

    /** path => the Shopping Feed ids the API accepted on it (every request, so a duplicate shows). */
    private static function sentByPath(): array
    {
        $out = [];
        foreach (Sandbox::orderPosts() as $post) {
            if ($post['status'] < 200 || $post['status'] >= 300) {
                continue;
            }
            foreach ($post['elements'] as $element) {
                $out[$post['path']][] = (int) ($element['id'] ?? 0);
            }
        }
        ksort($out);
        foreach ($out as &$ids) {
            sort($ids);
        }

        return $out;
    }

    /** The last element the API received for a Shopping Feed id. */
    private static function element(int $id): array
    {
        $found = [];
        foreach (Sandbox::orderPosts() as $post) {
            foreach ($post['elements'] as $element) {
                if ((int) ($element['id'] ?? 0) === $id) {
                    $found = $element;
                }
            }
        }

        return $found;
    }

    /** relative path => sha256 (or "dir") of the module's folder and of override/. */
    private function trees(): array
    {
        $out = [];
        foreach (['modules/shoppingfeed', 'override'] as $top) {
            $base = $this->root . '/' . $top;
            $out[$top] = 'dir';
            $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($base, FilesystemIterator::SKIP_DOTS),
                RecursiveIteratorIterator::SELF_FIRST);
            foreach ($it as $file) {
                $rel = $top . substr($file->getPathname(), strlen($base));
                $out[$rel] = $file->isDir() ? 'dir' : hash_file('sha256', $file->getPathname());
            }
        }
        ksort($out);

        return $out;
    }
}
