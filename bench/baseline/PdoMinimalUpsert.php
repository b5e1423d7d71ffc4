<?php
/**
 * The floor that issue 11 compares `saveOrder` with: a plain PDO SQLite
 * upsert of a minimal queue row. One table, one UNIQUE(id_order, action)
 * index, `INSERT ... ON CONFLICT DO UPDATE` autocommitted, WAL,
 * synchronous=NORMAL, the statement prepared once. It reads no setting
 * and checks nothing: not a queue anyone could run (no shop, no state, no
 * claim), the cheapest correct write of "this order's latest update".
 */
class PdoMinimalUpsert
{
    /** @var PDOStatement */
    private $upsert;

    public function __construct(string $path)
    {
        if (!is_dir(dirname($path))) {
            mkdir(dirname($path), 0775, true);
        }
        $pdo = new PDO('sqlite:' . $path, null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 10]);
        $pdo->exec('PRAGMA journal_mode = WAL');
        $pdo->exec('PRAGMA synchronous = NORMAL');
        $pdo->exec('CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY, id_order INTEGER NOT NULL, action TEXT NOT NULL,
            payload TEXT NOT NULL, date_upd INTEGER NOT NULL, UNIQUE (id_order, action))');
        $this->upsert = $pdo->prepare('INSERT INTO queue (id_order, action, payload, date_upd) VALUES (?, ?, ?, ?)
            ON CONFLICT (id_order, action) DO UPDATE SET payload = excluded.payload, date_upd = excluded.date_upd');
    }

    public function saveOrder(array $conveyor): bool
    {
        return $this->upsert->execute([(int) $conveyor['id_order'], (string) $conveyor['order_action'],
            json_encode($conveyor['order']), time()]);
    }
}
