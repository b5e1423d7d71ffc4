<?php

/**
 * ShoppingfeedOrderSyncInvoiceActions (SYNC_INVOICE): an order's invoice
 * PDFs kept in the queue and uploaded with upload-documents (multipart)
 * through the classlib chains against the sandbox.
 */
final class InvoiceActionsTest extends SyncTestCase
{
    const INVOICE_CLASS = 'ShoppingfeedOrderSyncInvoiceActions';
    /** The extension's limit per PDF (sfsync_core::invoice::MAX_DOCUMENT_BYTES). */
    const MAX_PDF_BYTES = 5000000;

    /** A "PDF" of exactly $size bytes, binary past its header (NUL, 0xFF, "--", CR LF: what a multipart body must carry intact). */
    private static function pdf(int $size, string $tag = ''): string
    {
        $head = "%PDF-1.4\n% " . $tag . "\n";

        return substr($head . str_repeat("\x00\xff--\r\n", intdiv(max(0, $size - strlen($head)), 6) + 1), 0, $size);
    }

    private function invoice(int $internalId, array $documents): array
    {
        return ['id_internal_shoppingfeed' => $internalId, 'documents' => $documents];
    }

    private function saveInvoice(int $idOrder, array $snapshot): array
    {
        return $this->save($idOrder, $snapshot, ['order_action' => ShoppingfeedOrderSyncQueue::ACTION_SYNC_INVOICE], [], self::INVOICE_CLASS);
    }

    private function sendInvoices(array $settings = []): array
    {
        return $this->chain(['getBatch', 'prepareBatch', 'sendBatch'],
            $this->conveyor(['order_action' => ShoppingfeedOrderSyncQueue::ACTION_SYNC_INVOICE], $settings), self::INVOICE_CLASS);
    }

    private function checkInvoices(array $settings = []): array
    {
        return $this->chain(['getBatch', 'checkTickets'],
            $this->conveyor(['order_action' => ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_INVOICE], $settings), self::INVOICE_CLASS);
    }

    /** The upload requests the sandbox logged: status, elements, files (name, size, sha256). */
    private static function uploads(): array
    {
        $out = [];
        foreach (Sandbox::log() as $entry) {
            if (($entry['method'] ?? '') !== 'POST' || substr((string) $entry['path'], -17) !== '/upload-documents') {
                continue;
            }
            $body = is_string($entry['body'] ?? null) ? json_decode($entry['body'], true) : ($entry['body'] ?? []);
            $out[] = ['status' => $entry['status'] ?? null, 'elements' => $body['order'] ?? [], 'files' => $body['files'] ?? []];
        }

        return $out;
    }

    public function testSeveralOrdersAndPdfsGoInOneMultipartRequestAndTheirTicketsAreRead(): void
    {
        $a1 = self::pdf(200000, 'A1');
        $a2 = self::pdf(1000, 'A2');
        $b = self::pdf(5000, 'B');
        $this->saveInvoice(1, $this->invoice(601, [['name' => 'FA000001.pdf', 'content' => $a1], ['name' => 'FA000002.pdf', 'type' => 'invoice', 'content' => $a2]]));
        $this->saveInvoice(2, $this->invoice(602, [['name' => 'FA000003.pdf', 'content' => $b]]));
        $row = $this->rowOf(1);
        $this->assertSame(['name' => 'FA000001.pdf', 'size' => 200000], $row['payload']['documents'][0],
            'find() shows each document\'s name, type and size, not its bytes');

        $run = $this->sendInvoices();
        $this->assertTrue($run['ok'], json_encode($run['conveyor']['errors'] ?? []));
        $uploads = self::uploads();
        $this->assertCount(1, $uploads);
        $this->assertSame(202, $uploads[0]['status']);
        $this->assertSame([
            ['id' => 601, 'documents' => [['type' => 'invoice'], ['type' => 'invoice']]],
            ['id' => 602, 'documents' => [['type' => 'invoice']]],
        ], $uploads[0]['elements']);
        $this->assertSame(['FA000001.pdf', 'FA000002.pdf', 'FA000003.pdf'], array_column($uploads[0]['files'], 'name'));
        $this->assertSame([hash('sha256', $a1), hash('sha256', $a2), hash('sha256', $b)], array_column($uploads[0]['files'], 'sha256'),
            'the bytes arrive as PrestaShop rendered them');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(1)['state']);
        $this->assertSame('upload-documents', $this->rowOf(1)['operation']);

        $this->checkInvoices();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(1)['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(2)['state']);
    }

    public function testRequestsStopAtTwentyFilesAndEveryBatchIsKept(): void
    {
        for ($o = 1; $o <= 5; $o++) {
            $docs = [];
            for ($d = 1; $d <= 6; $d++) {
                $docs[] = ['name' => "FA$o$d.pdf", 'content' => self::pdf(2000, "$o-$d")];
            }
            $this->saveInvoice($o, $this->invoice(610 + $o, $docs));
        }
        $this->sendInvoices();
        $uploads = self::uploads();
        $files = array_map(static function ($u) {
            return count($u['files']);
        }, $uploads);
        rsort($files);
        $this->assertSame([18, 12], $files, '30 files: 3 orders (18) then 2 (12), never over 20');
        $batches = [];
        for ($o = 1; $o <= 5; $o++) {
            $row = $this->rowOf($o);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state']);
            $batches[$row['batch_id']] = true;
        }
        $this->assertCount(2, $batches, 'each row keeps the batch id of its own request');
        $this->checkInvoices();
        for ($o = 1; $o <= 5; $o++) {
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf($o)['state']);
        }
    }

    public function testAPdfAtTheLimitIsKeptAndOneByteOverIsRefusedByName(): void
    {
        $this->saveInvoice(3, $this->invoice(621, [['name' => 'AT-LIMIT.pdf', 'content' => self::pdf(self::MAX_PDF_BYTES)]]));
        $this->assertSame(self::MAX_PDF_BYTES, $this->rowOf(3)['payload']['documents'][0]['size']);
        $this->sendInvoices();
        $this->assertSame(202, self::uploads()[0]['status']);
        $this->assertSame(self::MAX_PDF_BYTES, self::uploads()[0]['files'][0]['size']);

        $actions = $this->actions($this->conveyor(['id_order' => 4, 'order_action' => 'SYNC_INVOICE',
            'order' => $this->invoice(622, [['name' => 'OVER.pdf', 'content' => self::pdf(self::MAX_PDF_BYTES + 1)]])]), self::INVOICE_CLASS);
        try {
            $actions->saveOrder();
            $this->fail('a PDF over the limit was accepted');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertStringContainsString('OVER.pdf', $e->getMessage());
            $this->assertStringContainsString('5000001 bytes', $e->getMessage());
        }
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(4));
    }

    public function testBadDocumentsAreRefusedByNameAndTheQueueUntouched(): void
    {
        $cases = [
            'order.documents is missing' => ['id_internal_shoppingfeed' => 1],
            'order.documents is empty' => ['id_internal_shoppingfeed' => 1, 'documents' => []],
            "'page.html') is not a PDF" => ['id_internal_shoppingfeed' => 1, 'documents' => [['name' => 'page.html', 'content' => '<html>not a pdf</html>']]],
            "'empty.pdf') is empty" => ['id_internal_shoppingfeed' => 1, 'documents' => [['name' => 'empty.pdf', 'content' => '']]],
            "'none.pdf') has no content" => ['id_internal_shoppingfeed' => 1, 'documents' => [['name' => 'none.pdf']]],
            'order.documents[0].name' => ['id_internal_shoppingfeed' => 1, 'documents' => [['content' => self::pdf(100)]]],
        ];
        foreach ($cases as $needle => $snapshot) {
            $actions = $this->actions($this->conveyor(['id_order' => 5, 'order_action' => 'SYNC_INVOICE', 'order' => $snapshot]), self::INVOICE_CLASS);
            try {
                $actions->saveOrder();
                $this->fail("accepted: $needle");
            } catch (ShoppingfeedSyncException $e) {
                $this->assertStringContainsString($needle, $e->getMessage());
            }
        }
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(5));
    }

    public function testALaterSaveReplacesThePendingInvoices(): void
    {
        $this->saveInvoice(6, $this->invoice(631, [['name' => 'FA1.pdf', 'content' => self::pdf(500, 'old')]]));
        $new = self::pdf(600, 'corrected');
        $this->saveInvoice(6, $this->invoice(631, [['name' => 'FA1.pdf', 'content' => $new]]));
        $this->assertSame(600, $this->rowOf(6)['payload']['documents'][0]['size'], 'latest wins per order');
        $this->sendInvoices();
        $this->assertSame(hash('sha256', $new), self::uploads()[0]['files'][0]['sha256']);
    }

    public function testARefusedDocumentFailsItsOrderAloneUntilTheLimit(): void
    {
        Sandbox::config(['no_documents_orders' => ['641']]);
        $this->saveInvoice(7, $this->invoice(641, [['name' => 'NO.pdf', 'content' => self::pdf(100)]]));
        $this->saveInvoice(8, $this->invoice(642, [['name' => 'YES.pdf', 'content' => self::pdf(100)]]));
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => 2];
        $failed = [];
        for ($i = 0; $i < 2; $i++) {
            $this->sendInvoices($settings);
            $failed = array_merge($failed, $this->checkInvoices($settings)['conveyor']['failed'] ?? []);
        }
        $row = $this->rowOf(7);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $row['state']);
        $this->assertStringContainsString('does not accept documents', (string) $row['last_error']);
        $this->assertSame([7], array_column($failed, 'id_order'), 'listed once for the mail');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(8)['state']);
    }

    public function testAFailedTicketIsRetriedAndTheNextUploadSucceeds(): void
    {
        Sandbox::config(['fail_orders' => ['661' => 'Document rejected, try again']]);
        $this->saveInvoice(10, $this->invoice(661, [['name' => 'FA10.pdf', 'content' => self::pdf(900)]]));
        $this->sendInvoices();
        $this->checkInvoices();
        $row = $this->rowOf(10);
        $this->assertSame([ShoppingfeedOrderSyncQueue::STATE_PENDING, 'SYNC_INVOICE', 1, 1], [$row['state'], $row['action'], $row['attempts'], $row['failures']]);
        $this->assertStringContainsString('Document rejected', (string) $row['last_error']);
        $this->assertSame(900, $row['payload']['documents'][0]['size'], 'the PDF is still there for the retry');

        Sandbox::config(['fail_orders' => (object) []]);
        $this->sendInvoices();
        $this->checkInvoices();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(10)['state']);
        $this->assertCount(2, self::uploads(), 'uploaded again after the failed ticket');
    }

    public function testAnOutageLeavesTheInvoicesPendingAndTheNextRunSendsThem(): void
    {
        $this->saveInvoice(9, $this->invoice(651, [['name' => 'FA9.pdf', 'content' => self::pdf(3000)]]));
        Sandbox::faults([['kind' => 'status', 'status' => 503, 'count' => 1, 'on' => 'order']]);
        $this->sendInvoices();
        $row = $this->rowOf(9);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(1, $row['attempts']);
        $this->assertSame(0, $row['failures'], 'an outage is no failure of the order');
        $this->sendInvoices();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(9)['state']);
    }
}
