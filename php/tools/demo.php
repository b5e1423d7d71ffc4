<?php
/**
 * The order-sync demo: queues 300 order updates and lets the cron settle
 * them against the local Shopping Feed sandbox, printing what happens.
 *
 *   php -d extension=target/release/libshoppingfeed_sync.so php/tools/demo.php [SANDBOX_URL] [DATABASE]
 *
 * Without SANDBOX_URL it starts target/release/sf-sandbox (or
 * $SHOPPINGFEED_SANDBOX_BIN) itself on a free port and stops it at the end.
 * DATABASE defaults to a new file in the system's temp dir, removed at the
 * end (an existing file is refused: the demo needs an empty queue). A given
 * sandbox is reset.
 *
 * The mix: ship / cancel / refund / deliver updates, two thirds named by
 * Shopping Feed's internal id and one third by the legacy reference +
 * marketplace; five shipments without a tracking number and two refunds the
 * marketplace refuses (their tickets fail: retried once, then given up);
 * one update whose state is in no list (settled without any call). Tickets
 * take a while to become final (the sandbox's --ticket-delay-ms, else
 * 1.2 s), so several cron passes are needed.
 */

if (!extension_loaded('shoppingfeed_sync')) {
    fwrite(STDERR, "demo: the PHP extension shoppingfeed_sync is not loaded.\n"
        . "Run: php -d extension=target/release/libshoppingfeed_sync.so php/tools/demo.php [SANDBOX_URL] [DATABASE]\n");
    exit(4);
}

require_once __DIR__ . '/lib/standalone.php';
require_once dirname(__DIR__) . '/module/controllers/front/syncOrderPostImport.php';

const DEMO_ORDERS = 300;
const DEMO_SHOP = 1;
const DEMO_TOKEN = 'sandbox-token';
const DEMO_STORE = 42;
const DEMO_STATES = ['ship' => 4, 'cancel' => 6, 'refund' => 7, 'deliver' => 5, 'none' => 2];
const DEMO_TICKET_DELAY_MS = 1200;

/** @var resource|null the sandbox this demo started */
$demoSandbox = null;

function demo_http(string $method, string $url, ?array $body = null): array
{
    $context = stream_context_create(['http' => [
        'method' => $method,
        'header' => "Content-Type: application/json\r\nAccept: application/json\r\n",
        'content' => $body === null ? '' : json_encode($body),
        'ignore_errors' => true,
        'timeout' => 10,
    ]]);
    $answer = @file_get_contents($url, false, $context);
    if ($answer === false) {
        throw new RuntimeException("$method $url failed");
    }
    $decoded = json_decode($answer, true);

    return is_array($decoded) ? $decoded : [];
}

function demo_start_sandbox(): string
{
    global $demoSandbox;
    $binary = getenv('SHOPPINGFEED_SANDBOX_BIN') ?: dirname(__DIR__, 2) . '/target/release/sf-sandbox';
    if (!is_executable($binary)) {
        fwrite(STDERR, "demo: no sandbox URL given and $binary not found (cargo build --release, or pass a URL)\n");
        exit(2);
    }
    $out = tempnam(sys_get_temp_dir(), 'sf-sandbox-');
    $demoSandbox = proc_open([$binary, '--port', '0'], [0 => ['file', '/dev/null', 'r'], 1 => ['file', $out, 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
    register_shutdown_function(static function () use ($out) {
        global $demoSandbox;
        if (is_resource($demoSandbox)) {
            proc_terminate($demoSandbox);
            proc_close($demoSandbox);
        }
        @unlink($out);
    });
    $deadline = microtime(true) + 10;
    while (microtime(true) < $deadline) {
        if (preg_match('~listening on (http://\S+)~', (string) file_get_contents($out), $m)) {
            return $m[1];
        }
        usleep(20000);
    }
    fwrite(STDERR, "demo: the sandbox did not start\n");
    exit(2);
}

function demo_line(string $text = ''): void
{
    echo $text, "\n";
}

// ---------------------------------------------------------------- setup

$sandboxUrl = isset($argv[1]) && $argv[1] !== '' ? rtrim($argv[1], '/') : demo_start_sandbox();
$database = $argv[2] ?? sys_get_temp_dir() . '/shoppingfeed-sync-demo-' . getmypid() . '.sqlite';
if (!isset($argv[2])) {
    // A queue the demo chose itself is removed at the end.
    register_shutdown_function(static function () use ($database) {
        foreach (['', '-wal', '-shm', '-journal'] as $suffix) {
            @unlink($database . $suffix);
        }
    });
}
if (file_exists($database) && filesize($database) > 0) {
    fwrite(STDERR, "demo: $database already exists; give the path of a new file\n");
    exit(2);
}
ini_set('shoppingfeed_sync.database', $database);
ini_set('shoppingfeed_sync.api_url', $sandboxUrl);

// Orders whose tickets the marketplace will refuse (keys: internal id or reference).
$refused = [];
$plan = [];
for ($i = 1; $i <= DEMO_ORDERS; $i++) {
    $kind = ['ship', 'ship', 'ship', 'ship', 'cancel', 'cancel', 'refund', 'refund', 'deliver', 'deliver'][$i % 10];
    if ($i === 150) {
        $kind = 'none';
    }
    $snapshot = [];
    if ($i % 3 === 0) {
        $snapshot['reference'] = sprintf('%s-%06d', ['AMZ', 'CDS', 'FNC'][$i % 9 / 3], 400000 + $i);
        $snapshot['marketplace'] = ['Amazon', 'Cdiscount', 'Fnac'][$i % 9 / 3];
        $key = $snapshot['reference'];
    } else {
        $snapshot['id_internal_shoppingfeed'] = 700000 + $i;
        $key = (string) (700000 + $i);
    }
    $snapshot['id_order_state'] = DEMO_STATES[$kind];
    if ($kind === 'ship') {
        $tracking = $i % 60 === 0 ? '' : sprintf('6A%09d', $i * 7919);
        $snapshot += [
            'carrier' => ['Colissimo', 'UPS', 'DHL'][$i % 3],
            'tracking_number' => $tracking,
            'tracking_url' => $tracking === '' ? '' : 'https://track.example/?n=' . $tracking,
        ];
    } elseif ($kind === 'cancel') {
        $snapshot['reason'] = $i % 4 === 0 ? 'Out of stock' : '';
    } elseif ($kind === 'refund' && $i % 4 === 0) {
        $snapshot['refund'] = ['shipping' => false, 'products' => [['reference' => 'SKU-' . $i, 'quantity' => 1]]];
    }
    if ($i === 16 || $i === 26) {
        $refused[$key] = 'Refund not supported by this marketplace';
    }
    $plan[$i] = ['kind' => $kind, 'snapshot' => $snapshot, 'key' => $key];
}

// Keep the latency and ticket delay the sandbox was started with (if any), reset the rest.
$given = demo_http('GET', $sandboxUrl . '/_sandbox/config');
$ticketDelay = !empty($given['ticket_delay_ms']) ? (int) $given['ticket_delay_ms'] : DEMO_TICKET_DELAY_MS;
$latency = (int) ($given['latency_ms'] ?? 0);
demo_http('POST', $sandboxUrl . '/_sandbox/reset');
demo_http('POST', $sandboxUrl . '/_sandbox/config', ['ticket_delay_ms' => $ticketDelay, 'latency_ms' => $latency, 'fail_orders' => (object) $refused]);

Configuration::set('SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED', '1');
Configuration::set('SHOPPINGFEED_AUTH_TOKEN', DEMO_TOKEN);
Configuration::set('SHOPPINGFEED_STORE_ID', (string) DEMO_STORE);
Configuration::set('SHOPPINGFEED_SHIPPED_ORDERS', '[4]');
Configuration::set('SHOPPINGFEED_CANCELLED_ORDERS', '[6]');
Configuration::set('SHOPPINGFEED_REFUNDED_ORDERS', '[7]');
Configuration::set('SHOPPINGFEED_DELIVERED_ORDERS', '[5]');
Configuration::set('SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT', '0');   // no wait for tracking data in a demo
Configuration::set('SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT', '0'); // nor for a tracking number: the five go, and are refused
Configuration::set('SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY', '1');  // retry a failed ticket after ~1 s
Configuration::set('SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS', '2'); // then give up
Configuration::set('SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS', '100');

demo_line('Shopping Feed order sync demo (shoppingfeed_sync ' . phpversion('shoppingfeed_sync') . ')');
demo_line("  sandbox:  $sandboxUrl (tickets final after $ticketDelay ms, latency $latency ms)");
demo_line("  queue:    $database");
demo_line();

// ---------------------------------------------------------------- queue

$started = microtime(true);
foreach ($plan as $idOrder => $order) {
    $handler = new ActionsHandler();
    $handler->setConveyor([
        'id_order' => $idOrder,
        'id_shop' => DEMO_SHOP,
        'order_action' => ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS,
        'order' => $order['snapshot'],
    ]);
    $handler->addActions('saveOrder');
    if (!$handler->process('ShoppingfeedOrderSyncStatus')) {
        fwrite(STDERR, "demo: saveOrder failed for order $idOrder\n");
        exit(1);
    }
}
$kinds = array_count_values(array_column($plan, 'kind'));
demo_line(sprintf(
    'Queued %d order updates in %.0f ms: %d ship (%d without tracking number), %d cancel, %d refund (%d refused by the marketplace), %d deliver, %d in no state list.',
    count($plan),
    (microtime(true) - $started) * 1000,
    $kinds['ship'] ?? 0,
    count(array_filter($plan, static function ($o) {
        return $o['kind'] === 'ship' && $o['snapshot']['tracking_number'] === '';
    })),
    $kinds['cancel'] ?? 0,
    $kinds['refund'] ?? 0,
    count($refused),
    $kinds['deliver'] ?? 0,
    $kinds['none'] ?? 0
));
demo_line();

// ---------------------------------------------------------------- cron passes

$controller = new ShoppingfeedSyncOrderPostImportModuleFrontController();
// The demo prints its own report: no run log on stderr.
$controller->setRunLog(new ShoppingfeedOrderSyncRunLog(ShoppingfeedOrderSyncRunLog::TARGET_NONE));
$requestsBefore = 0;
$allFailed = [];
for ($pass = 1; $pass <= 40; $pass++) {
    $result = $controller->runCron(['shops' => [DEMO_SHOP], 'time_budget' => 30], false);
    $shop = $result['summary'][DEMO_SHOP];
    foreach ($result['failed_orders'] as $failed) {
        $allFailed[$failed['id_order']] = $failed;
    }
    $counts = ShoppingfeedOrderSyncQueue::counts(DEMO_SHOP);
    $stats = demo_http('GET', $sandboxUrl . '/_sandbox/stats');
    printf(
        "pass %2d: tickets read %3d -> %3d done, %2d retry, %2d given up | sent %3d, %d done without a ticket | %2d HTTP requests | queue: %3d pending, %3d sent, %3d done, %2d failed\n",
        $pass,
        $shop['checked'],
        $shop['succeeded'] - $shop['done_at_send'],
        $shop['pending'],
        $shop['failed'],
        $shop['sent'],
        $shop['done_at_send'],
        $stats['requests'] - $requestsBefore,
        $counts['pending'],
        $counts['sent'],
        $counts['done'],
        $counts['failed']
    );
    $requestsBefore = $stats['requests'];
    if ($shop['status'] === 'error') {
        demo_line('  error: ' . $shop['message']);
    }
    if ($counts['pending'] === 0 && $counts['sent'] === 0) {
        break;
    }
    usleep(700000);
}
demo_line();

// ---------------------------------------------------------------- account

$stats = demo_http('GET', $sandboxUrl . '/_sandbox/stats');
$log = demo_http('GET', $sandboxUrl . '/_sandbox/log')['requests'] ?? [];
$requestsPerOperation = [];
foreach ($log as $entry) {
    if (($entry['method'] ?? '') === 'POST' && isset($entry['operation'])) {
        $requestsPerOperation[$entry['operation']] = ($requestsPerOperation[$entry['operation']] ?? 0) + 1;
    }
}
$ended = [];
$failedList = [];
foreach ($plan as $idOrder => $order) {
    $rows = ShoppingfeedOrderSyncQueue::find($idOrder);
    $row = end($rows);
    $kind = $order['kind'];
    $ended[$kind][$row['state']] = ($ended[$kind][$row['state']] ?? 0) + 1;
    if ($row['state'] === ShoppingfeedOrderSyncQueue::STATE_FAILED) {
        $failedList[] = sprintf('  order %3d  %-7s %-16s after %d failures: %s', $idOrder, (string) $row['operation'], $order['key'], $row['failures'], (string) $row['last_error']);
    }
}

demo_line('Per operation:');
printf("  %-9s %8s %13s %15s %6s %7s %8s\n", 'operation', 'updates', 'API requests', 'orders received', 'done', 'failed', 'pending');
foreach (['ship', 'cancel', 'refund', 'deliver', 'none'] as $kind) {
    printf(
        "  %-9s %8d %13s %15s %6d %7d %8d\n",
        $kind === 'none' ? '(no list)' : $kind,
        $kinds[$kind] ?? 0,
        $kind === 'none' ? '-' : (string) ($requestsPerOperation[$kind] ?? 0),
        $kind === 'none' ? '-' : (string) ($stats['orders_received'][$kind] ?? 0),
        $ended[$kind]['done'] ?? 0,
        $ended[$kind]['failed'] ?? 0,
        ($ended[$kind]['pending'] ?? 0) + ($ended[$kind]['sent'] ?? 0)
    );
}
demo_line();
demo_line('Given up (STATE_FAILED, mailed to the merchant once by the cron):');
foreach ($failedList ?: ['  none'] as $line) {
    demo_line($line);
}
demo_line();
$counts = ShoppingfeedOrderSyncQueue::counts(DEMO_SHOP);
demo_line(sprintf(
    'Sandbox: %d HTTP requests (%d order operations, %d ticket reads), %d orders received, %d ignored, duplicates %d.',
    $stats['requests'],
    $stats['order_requests'],
    $stats['ticket_requests'],
    array_sum($stats['orders_received']),
    $stats['ignored'],
    $stats['duplicates']
));
demo_line(sprintf(
    'Queue: %d done, %d failed, %d pending, %d sent: %s.',
    $counts['done'],
    $counts['failed'],
    $counts['pending'],
    $counts['sent'],
    $counts['pending'] + $counts['sent'] === 0 ? 'every update settled, none lost' : 'some updates still wait'
));

exit($counts['pending'] + $counts['sent'] === 0 && $stats['duplicates'] === 0 ? 0 : 1);
