<?php
/**
 * Baseline drain: the plain-PHP cron a competent developer writes for the
 * same queue (PDO SQLite, the table of PdoOrderQueue) and the same batched
 * sending (curl_multi, 100 orders a request, 10 in flight). Like the
 * extension's cron it claims up to --batch due rows with a lease, maps their
 * states to operations, sends, and commits every state change right after
 * each answer (sent with its batch id; tickets read later settle rows done).
 *
 *   php bench/baseline/drain.php --db=Q.sqlite --api-url=URL --phase=send|check [--batch=4000]
 *
 * Prints one JSON line: wall time, rows sent/settled, requests, peak memory.
 */
require_once dirname(__DIR__) . '/lib.php';
require_once dirname(__DIR__, 2) . '/php/tools/lib/standalone.php';
require_once __DIR__ . '/PdoOrderQueue.php';
require_once __DIR__ . '/HttpPool.php';
require_once __DIR__ . '/Elements.php';

$o = bench_opts($argv);
$api = rtrim((string) $o['api-url'], '/');
$phase = (string) ($o['phase'] ?? 'send');
$batch = (int) ($o['batch'] ?? 4000);
foreach (bench_settings() as $k => $v) {
    Configuration::set($k, $v);
}

$t0 = hrtime(true);
$queue = new PdoOrderQueue((string) $o['db']);
$pdo = $queue->pdo;
$pool = new HttpPool(BENCH_TOKEN);
$claimSql = "UPDATE shoppingfeed_order SET locked_by = :claim, locked_until = :until
    WHERE id_shoppingfeed_order IN (
        SELECT id_shoppingfeed_order FROM shoppingfeed_order
        WHERE id_shop = :shop AND action = :action AND state IN ('pending', 'sent') AND update_at <= :now
          AND (locked_by IS NULL OR locked_until < :now)
        ORDER BY update_at, id_shoppingfeed_order LIMIT :limit)
    RETURNING id_shoppingfeed_order, payload, batch_id";
$claim = $pdo->prepare($claimSql);
$setOperation = $pdo->prepare('UPDATE shoppingfeed_order SET operation = :op, date_upd = :now WHERE id_shoppingfeed_order = :id AND locked_by = :claim');
$markSent = $pdo->prepare("UPDATE shoppingfeed_order SET action = 'CHECK_TICKET_SYNC_STATUS', state = 'sent', batch_id = :batch,
    update_at = :now, locked_by = NULL, locked_until = NULL, date_upd = :now WHERE id_shoppingfeed_order = :id AND locked_by = :claim");
$markDone = $pdo->prepare("UPDATE shoppingfeed_order SET state = :state, ticket_id = :ticket, last_error = :error,
    locked_by = NULL, locked_until = NULL, date_upd = :now WHERE id_shoppingfeed_order = :id AND locked_by = :claim");
$retry = $pdo->prepare('UPDATE shoppingfeed_order SET attempts = attempts + 1, last_error = :error, update_at = :due,
    locked_by = NULL, locked_until = NULL, date_upd = :now WHERE id_shoppingfeed_order = :id AND locked_by = :claim');
$release = $pdo->prepare('UPDATE shoppingfeed_order SET locked_by = NULL, locked_until = NULL WHERE id_shoppingfeed_order = :id AND locked_by = :claim');

$stats = ['sent' => 0, 'settled' => 0, 'retried' => 0, 'chains' => 0];
$tx = static function (callable $fn) use ($pdo) {
    $pdo->exec('BEGIN IMMEDIATE');
    try {
        $fn();
        $pdo->exec('COMMIT');
    } catch (Throwable $e) {
        $pdo->exec('ROLLBACK');
        throw $e;
    }
};

while (true) {
    $token = bin2hex(random_bytes(8));
    $now = time();
    $rows = [];
    $tx(function () use ($claim, $token, $now, $batch, $phase, &$rows) {
        $claim->execute([':claim' => $token, ':until' => $now + 300, ':shop' => BENCH_SHOP,
            ':action' => $phase === 'send' ? 'SYNC_STATUS' : 'CHECK_TICKET_SYNC_STATUS', ':now' => $now, ':limit' => $batch]);
        $rows = $claim->fetchAll(PDO::FETCH_ASSOC);
    });
    if (!$rows) {
        break;
    }
    $stats['chains']++;
    if ($phase === 'send') {
        // Map and record each row's operation, then send 100 a request.
        $byOp = [];
        $tx(function () use ($rows, $setOperation, $token, $now, &$byOp) {
            foreach ($rows as $row) {
                $order = json_decode($row['payload'], true);
                $op = baseline_operation((int) $order['id_order_state']);
                $setOperation->execute([':op' => $op, ':now' => $now, ':id' => $row['id_shoppingfeed_order'], ':claim' => $token]);
                $byOp[$op][] = [(int) $row['id_shoppingfeed_order'], baseline_element($op, $order)];
            }
        });
        $requests = (function () use ($byOp, $api) {
            foreach ($byOp as $op => $items) {
                foreach (array_chunk($items, 100) as $chunk) {
                    yield array_column($chunk, 0) => ['POST', "$api/v1/store/" . BENCH_STORE . "/order/$op", json_encode(['order' => array_column($chunk, 1)])];
                }
            }
        })();
        $pool->run($requests, function ($ids, $status, $body) use ($tx, $markSent, $retry, $token, &$stats) {
            $now = time();
            $answer = json_decode($body, true);
            $tx(function () use ($ids, $status, $answer, $markSent, $retry, $token, $now, &$stats) {
                foreach ($ids as $id) {
                    if ($status === 202 && isset($answer['id'])) {
                        $markSent->execute([':batch' => (string) $answer['id'], ':now' => $now, ':id' => $id, ':claim' => $token]);
                        $stats['sent']++;
                    } else {
                        $retry->execute([':error' => "HTTP $status", ':due' => $now + 60, ':now' => $now, ':id' => $id, ':claim' => $token]);
                        $stats['retried']++;
                    }
                }
            });
        });
    } else {
        // Read the tickets of each batch (one page of 200), settle each row.
        $byBatch = [];
        foreach ($rows as $row) {
            $order = json_decode($row['payload'], true);
            $byBatch[$row['batch_id']][] = [(int) $row['id_shoppingfeed_order'], $order];
        }
        $requests = (function () use ($byBatch, $api) {
            foreach ($byBatch as $batchId => $items) {
                yield $batchId => ['GET', "$api/v1/store/" . BENCH_STORE . '/ticket?batchId=' . rawurlencode((string) $batchId) . '&page=1&limit=200', null];
            }
        })();
        $pool->run($requests, function ($batchId, $status, $body) use ($tx, $byBatch, $markDone, $retry, $release, $token, &$stats) {
            $now = time();
            $page = json_decode($body, true);
            $tickets = [];
            foreach ($page['_embedded']['ticket'] ?? [] as $t) {
                $key = isset($t['payload']['id']) ? 'id:' . $t['payload']['id'] : 'ref:' . ($t['payload']['reference'] ?? '');
                $tickets[$key] = $t;
            }
            $tx(function () use ($byBatch, $batchId, $status, $tickets, $markDone, $retry, $release, $token, $now, &$stats) {
                foreach ($byBatch[$batchId] as [$id, $order]) {
                    $key = !empty($order['id_internal_shoppingfeed']) ? 'id:' . $order['id_internal_shoppingfeed'] : 'ref:' . $order['reference'];
                    $t = $tickets[$key] ?? null;
                    if ($status !== 200 || $t === null) {
                        $retry->execute([':error' => "tickets: HTTP $status", ':due' => $now + 60, ':now' => $now, ':id' => $id, ':claim' => $token]);
                        $stats['retried']++;
                    } elseif (in_array($t['state'], ['succeed', 'canceled', 'failed'], true)) {
                        $markDone->execute([':state' => $t['state'] === 'failed' ? 'failed' : 'done', ':ticket' => (string) $t['id'],
                            ':error' => $t['result']['message'] ?? null, ':now' => $now, ':id' => $id, ':claim' => $token]);
                        $stats['settled']++;
                    } else {
                        $release->execute([':id' => $id, ':claim' => $token]);
                    }
                }
            });
        });
    }
}
$wall = (hrtime(true) - $t0) / 1e9;
bench_result(['bench' => 'drain', 'impl' => 'pdo+curl_multi', 'phase' => $phase, 'batch' => $batch, 'wall_s' => $wall,
    'requests' => $pool->requests, 'peak_php_bytes' => memory_get_peak_usage(true), 'max_rss_kib' => bench_max_rss_kib()] + $stats);
