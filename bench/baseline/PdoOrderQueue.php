<?php
/**
 * The plain-PHP baseline of the queue: what a competent PHP developer writes
 * with PDO SQLite for the same contract. Same table and indexes as the
 * extension's store, WAL, synchronous=NORMAL (or FULL), a busy timeout,
 * prepared statements kept for the life of the object, one short
 * BEGIN IMMEDIATE transaction per saveOrder (update the pending row, else
 * insert), settings read through PrestaShop's Configuration::get.
 *
 * The claim / settle methods serve the baseline drain (bench/baseline/drain.php).
 */
class PdoOrderQueue
{
    /** @var PDO */
    public $pdo;
    /** @var PDOStatement[] */
    private $st = [];

    public function __construct(string $path, bool $syncFull = false)
    {
        if (!is_dir(dirname($path))) {
            mkdir(dirname($path), 0775, true);
        }
        $this->pdo = new PDO('sqlite:' . $path, null, null, [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_TIMEOUT => 10,
        ]);
        $this->pdo->exec('PRAGMA journal_mode = WAL');
        $this->pdo->exec('PRAGMA synchronous = ' . ($syncFull ? 'FULL' : 'NORMAL'));
        $this->pdo->exec('PRAGMA busy_timeout = 10000');
        $this->pdo->exec(<<<'SQL'
CREATE TABLE IF NOT EXISTS shoppingfeed_order (
    id_shoppingfeed_order INTEGER PRIMARY KEY AUTOINCREMENT,
    id_order INTEGER NOT NULL,
    id_shop INTEGER NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    operation TEXT,
    payload TEXT NOT NULL,
    batch_id TEXT,
    ticket_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    update_at INTEGER NOT NULL,
    date_add INTEGER NOT NULL,
    date_upd INTEGER NOT NULL,
    locked_by TEXT,
    locked_until INTEGER
);
CREATE INDEX IF NOT EXISTS shoppingfeed_order_claim
    ON shoppingfeed_order (id_shop, action, update_at) WHERE state IN ('pending', 'sent');
CREATE INDEX IF NOT EXISTS shoppingfeed_order_order
    ON shoppingfeed_order (id_order, id_shop, action);
CREATE INDEX IF NOT EXISTS shoppingfeed_order_state
    ON shoppingfeed_order (state, id_shop);
SQL);
        $this->st['update'] = $this->pdo->prepare(
            "UPDATE shoppingfeed_order SET payload = :payload, update_at = :due, date_upd = :now
             WHERE id_order = :id_order AND id_shop = :id_shop AND action = :action
               AND state = 'pending' AND locked_by IS NULL"
        );
        $this->st['insert'] = $this->pdo->prepare(
            "INSERT INTO shoppingfeed_order
                (id_order, id_shop, action, state, payload, attempts, failures, update_at, date_add, date_upd)
             VALUES (:id_order, :id_shop, :action, 'pending', :payload, 0, 0, :due, :now, :now)"
        );
    }

    private static function stateList(string $name, int $idShop): array
    {
        $raw = Configuration::get($name, null, null, $idShop);
        if ($raw === false || $raw === '') {
            return [];
        }
        $list = json_decode((string) $raw, true);
        if (!is_array($list)) {
            throw new InvalidArgumentException("setting $name must be a JSON array of order state ids");
        }

        return array_map('intval', $list);
    }

    /**
     * The checks and values of one save, shared with the MySQL baseline:
     * [id_order, id_shop, action, payload JSON, due, now].
     */
    public static function checked(array $c): array
    {
        $idOrder = filter_var($c['id_order'] ?? null, FILTER_VALIDATE_INT, ['options' => ['min_range' => 1]]);
        $idShop = filter_var($c['id_shop'] ?? null, FILTER_VALIDATE_INT, ['options' => ['min_range' => 1]]);
        $action = $c['order_action'] ?? null;
        $order = $c['order'] ?? null;
        if ($idOrder === false || $idShop === false) {
            throw new InvalidArgumentException('id_order and id_shop must be positive integers');
        }
        if (!is_string($action) || !preg_match('/^[A-Z0-9_]{1,64}$/', $action)) {
            throw new InvalidArgumentException('order_action is malformed');
        }
        if (!is_array($order) || !isset($order['id_order_state'])) {
            throw new InvalidArgumentException('order needs id_order_state');
        }
        if (empty($order['id_internal_shoppingfeed']) && (empty($order['reference']) || empty($order['marketplace']))) {
            throw new InvalidArgumentException('order needs an identifier');
        }
        $shipped = self::stateList('SHOPPINGFEED_SHIPPED_ORDERS', $idShop);
        foreach (['SHOPPINGFEED_CANCELLED_ORDERS', 'SHOPPINGFEED_REFUNDED_ORDERS', 'SHOPPINGFEED_DELIVERED_ORDERS'] as $name) {
            self::stateList($name, $idShop);
        }
        $shift = Configuration::get('SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT', null, null, $idShop);
        $shift = $shift === false ? 5 : (int) $shift;
        $now = time();
        $due = in_array((int) $order['id_order_state'], $shipped, true) ? $now + 60 * $shift : $now;
        $payload = json_encode($order, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);

        return [$idOrder, $idShop, $action, $payload, $due, $now];
    }

    /** Queues one update (the conveyor of saveOrder); durable when it returns. */
    public function saveOrder(array $c): bool
    {
        [$idOrder, $idShop, $action, $payload, $due, $now] = self::checked($c);

        $this->pdo->exec('BEGIN IMMEDIATE');
        try {
            $args = [':payload' => $payload, ':due' => $due, ':now' => $now, ':id_order' => $idOrder, ':id_shop' => $idShop, ':action' => $action];
            $this->st['update']->execute($args);
            if ($this->st['update']->rowCount() === 0) {
                $this->st['insert']->execute($args);
            }
            $this->pdo->exec('COMMIT');
        } catch (Throwable $e) {
            $this->pdo->exec('ROLLBACK');
            throw $e;
        }

        return true;
    }
}
