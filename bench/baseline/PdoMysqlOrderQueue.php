<?php
/**
 * The plain-PHP baseline of the MySQL queue: what a competent PHP developer
 * writes with PDO MySQL for the same contract, on the same server, table and
 * indexes as the extension's store (the DDL of
 * core/migrations/mysql/0001_queue.sql, under its own prefix): the same
 * checks as PdoOrderQueue, then one autocommitted
 * INSERT ... ON DUPLICATE KEY UPDATE (one round trip, durable when it
 * returns), server-side prepared statements kept for the object's life.
 */
require_once __DIR__ . '/PdoOrderQueue.php';

class PdoMysqlOrderQueue
{
    /** @var PDO */
    public $pdo;
    /** @var PDOStatement */
    private $upsert;

    /** @param string $url mysql://USER:PASSWORD@HOST:PORT/DBNAME?prefix=PFX_ */
    public function __construct(string $url)
    {
        $p = parse_url($url);
        parse_str($p['query'] ?? '', $q);
        $table = ($q['prefix'] ?? '') . 'shoppingfeed_order_sync_queue';
        $this->pdo = new PDO(
            sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $p['host'], $p['port'] ?? 3306, ltrim($p['path'], '/')),
            rawurldecode($p['user'] ?? ''),
            rawurldecode($p['pass'] ?? ''),
            [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_EMULATE_PREPARES => false]
        );
        $ddl = (string) file_get_contents(dirname(__DIR__, 2) . '/core/migrations/mysql/0001_queue.sql');
        $ddl = preg_replace('/^--.*$/m', '', $ddl);
        $this->pdo->exec(str_replace('{table}', $table, $ddl));
        $this->upsert = $this->pdo->prepare(
            "INSERT INTO `$table` (id_order, id_shop, action, state, payload, attempts, failures, update_at, date_add, date_upd)
             VALUES (:id_order, :id_shop, :action, 'pending', :payload, 0, 0, :due, :now, :now2)
             ON DUPLICATE KEY UPDATE payload = VALUES(payload), update_at = VALUES(update_at), date_upd = VALUES(date_upd)"
        );
    }

    /** Queues one update (the conveyor of saveOrder); durable when it returns. */
    public function saveOrder(array $c): bool
    {
        [$idOrder, $idShop, $action, $payload, $due, $now] = PdoOrderQueue::checked($c);
        $this->upsert->execute([':id_order' => $idOrder, ':id_shop' => $idShop, ':action' => $action, ':payload' => $payload, ':due' => $due, ':now' => $now, ':now2' => $now]);

        return true;
    }
}
