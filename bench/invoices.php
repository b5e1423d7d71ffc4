<?php
/**
 * saveOrder of invoices (SYNC_INVOICE): N calls, each carrying one PDF of
 * --kb kilobytes (binary past its header, as PrestaShop's PDF class renders
 * them), each timed: it runs in the merchant's request.
 *
 *   php -d extension=... bench/invoices.php --n=1000 --kb=200 --db=/tmp/q.sqlite
 *
 * The queued invoices are due at once: the drain benchmark (run.php,
 * "Invoices") uploads them next through the cron runner.
 */
require_once __DIR__ . '/lib.php';
require_once dirname(__DIR__) . '/php/tools/lib/standalone.php';

$o = bench_opts($argv);
$n = (int) ($o['n'] ?? 1000);
$kb = (int) ($o['kb'] ?? 200);
$db = (string) ($o['db'] ?? sys_get_temp_dir() . '/bench-invoices.sqlite');
ini_set('shoppingfeed_sync.database', $db);
foreach (bench_settings(0) as $k => $v) {
    Configuration::set($k, $v);
}
$body = '';
for ($i = 0; strlen($body) < $kb * 1024; $i++) {
    $body .= pack('N', crc32((string) $i)) . "\r\n--";
}
$times = [];
$t0 = hrtime(true);
for ($i = 1; $i <= $n; $i++) {
    $pdf = substr("%PDF-1.4\n% invoice $i\n" . $body, 0, $kb * 1024);
    $a = new ShoppingfeedOrderSyncInvoiceActions();
    $a->setConveyor([
        'id_order' => $i,
        'id_shop' => BENCH_SHOP,
        'order_action' => 'SYNC_INVOICE',
        'order' => ['id_internal_shoppingfeed' => $i, 'documents' => [['name' => sprintf('FA%06d.pdf', $i), 'content' => $pdf]]],
    ]);
    $s = hrtime(true);
    $ok = $a->saveOrder();
    $times[] = hrtime(true) - $s;
    if ($ok !== true) {
        fwrite(STDERR, "saveOrder returned false at $i\n");
        exit(1);
    }
}
$wall = (hrtime(true) - $t0) / 1e9;
bench_result(['bench' => 'save_invoice', 'n' => $n, 'kb' => $kb, 'bytes' => $n * $kb * 1024, 'wall_s' => $wall,
    'max_rss_kib' => bench_max_rss_kib(), 'queue_bytes' => @filesize($db) + @filesize("$db-wal")] + bench_stats($times));
