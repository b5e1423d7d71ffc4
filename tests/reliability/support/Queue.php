<?php
/**
 * Direct read access to a queue file, beside the extension (its own SQLite
 * connection, WAL mode): what is really on disk, the leases, an integrity
 * check. The only writes are test-only time travel (makeDue).
 */
final class Queue
{
    /** @var PDO */
    private $pdo;

    public function __construct(string $file)
    {
        $this->pdo = new PDO('sqlite:' . $file, null, null, [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_TIMEOUT => 30,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
        ]);
    }

    public function rows(string $where = '1', array $params = []): array
    {
        $st = $this->pdo->prepare('SELECT * FROM shoppingfeed_order WHERE ' . $where . ' ORDER BY id_shoppingfeed_order');
        $st->execute($params);

        return $st->fetchAll();
    }

    public function scalar(string $sql, array $params = [])
    {
        $st = $this->pdo->prepare($sql);
        $st->execute($params);

        return $st->fetchColumn();
    }

    /** state => count, all four states present. */
    public function counts(): array
    {
        $out = ['pending' => 0, 'sent' => 0, 'done' => 0, 'failed' => 0];
        foreach ($this->pdo->query('SELECT state, COUNT(*) AS n FROM shoppingfeed_order GROUP BY state') as $r) {
            $out[$r['state']] = (int) $r['n'];
        }

        return $out;
    }

    /** Rows leased now (locked_by set, lease not ended), by claim token. */
    public function liveLeases(): array
    {
        $out = [];
        $st = $this->pdo->prepare('SELECT id_shoppingfeed_order, locked_by, locked_until FROM shoppingfeed_order WHERE locked_by IS NOT NULL AND locked_until >= ?');
        $st->execute([time()]);
        foreach ($st->fetchAll() as $r) {
            $out[$r['locked_by']][] = (int) $r['id_shoppingfeed_order'];
        }

        return $out;
    }

    /** Test-only time travel: every waiting row due now (the retry delays are checked before). */
    public function makeDue(): int
    {
        return $this->pdo->exec("UPDATE shoppingfeed_order SET update_at = 0 WHERE state IN ('pending', 'sent') AND update_at > 0");
    }

    public function integrity(): string
    {
        return (string) $this->pdo->query('PRAGMA integrity_check')->fetchColumn();
    }

    public function pdo(): PDO
    {
        return $this->pdo;
    }
}
