<?php
/**
 * Direct access to a queue beside the extension, on either store, over a
 * connection of its own: what is really stored, the leases, an integrity
 * check, a lock held as another process would. The only writes are
 * test-only time travel (makeDue) and what a test asks for with exec().
 *
 * - SQLite (a file path): PDO sqlite on the file, table shoppingfeed_order.
 * - MySQL/MariaDB (a mysql:// URL, as shoppingfeed_sync.database takes it):
 *   PDO mysql, table <prefix>shoppingfeed_order_sync_queue, whose id column
 *   id_shoppingfeed_order_sync_queue is read AS id_shoppingfeed_order, the
 *   name the rows have in PHP (find()) and on SQLite, so that tests compare
 *   rows the same way on both stores.
 *
 * SQL given to rows(), scalar() and exec() names the table {queue} and the
 * id column {id}: "SELECT COUNT(*) FROM {queue} WHERE ...".
 *
 * Standalone (no TestEnv): fixtures running in child processes use it too.
 */
final class Queue
{
    /** The MySQL table, after the prefix (the contract's name). */
    const MYSQL_TABLE = 'shoppingfeed_order_sync_queue';

    /** @var PDO */
    private $pdo;
    /** @var string the database setting this reader was opened on */
    private $database;
    /** @var bool */
    private $mysql;
    /** @var string */
    private $table;
    /** @var string */
    private $id;

    public function __construct(string $database)
    {
        $this->database = $database;
        $this->mysql = self::isMysqlUrl($database);
        if ($this->mysql) {
            $this->table = self::mysqlConfig($database)['prefix'] . self::MYSQL_TABLE;
            $this->id = 'id_shoppingfeed_order_sync_queue';
        } else {
            $this->table = 'shoppingfeed_order';
            $this->id = 'id_shoppingfeed_order';
        }
        $this->connect();
    }

    public static function isMysqlUrl(string $database): bool
    {
        return stripos(ltrim($database), 'mysql://') === 0;
    }

    /**
     * The parts of a mysql:// URL (user and password percent-decoded, the
     * query's prefix and socket).
     *
     * @return array{user: string, password: string, host: string, port: int, dbname: string, prefix: string, socket: ?string}
     */
    public static function mysqlConfig(string $url): array
    {
        $parts = parse_url(trim($url));
        if (!is_array($parts) || !isset($parts['host'], $parts['path'])) {
            throw new InvalidArgumentException('not a mysql://USER:PASSWORD@HOST[:PORT]/DBNAME URL');
        }
        parse_str($parts['query'] ?? '', $query);

        return [
            'user' => rawurldecode($parts['user'] ?? ''),
            'password' => rawurldecode($parts['pass'] ?? ''),
            'host' => $parts['host'],
            'port' => (int) ($parts['port'] ?? 3306),
            'dbname' => ltrim($parts['path'], '/'),
            'prefix' => (string) ($query['prefix'] ?? ''),
            'socket' => isset($query['socket']) ? (string) $query['socket'] : null,
        ];
    }

    /** A PDO connection to the server and database of a mysql:// URL (errors as exceptions). */
    public static function connectMysql(string $url, float $timeout = 10.0): PDO
    {
        $c = self::mysqlConfig($url);
        $dsn = $c['socket'] !== null
            ? "mysql:unix_socket={$c['socket']};dbname={$c['dbname']};charset=utf8mb4"
            : "mysql:host={$c['host']};port={$c['port']};dbname={$c['dbname']};charset=utf8mb4";

        return new PDO($dsn, $c['user'], $c['password'], [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_TIMEOUT => (int) ceil($timeout),
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
        ]);
    }

    private function connect(): void
    {
        if ($this->mysql) {
            $this->pdo = self::connectMysql($this->database);
            // Read what other connections committed, statement by statement
            // (the default REPEATABLE READ would freeze a snapshot inside
            // holdWriteLock()'s transaction).
            $this->pdo->exec('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');

            return;
        }
        $this->pdo = new PDO('sqlite:' . $this->database, null, null, [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_TIMEOUT => 30,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
        ]);
    }

    public function isMysql(): bool
    {
        return $this->mysql;
    }

    /** The queue's table (shoppingfeed_order, or <prefix>shoppingfeed_order_sync_queue). */
    public function table(): string
    {
        return $this->table;
    }

    /** SQL with {queue} and {id} replaced by this store's table and id column. */
    public function sql(string $sql): string
    {
        return strtr($sql, ['{queue}' => $this->table, '{id}' => $this->id]);
    }

    /**
     * Runs a statement, reconnecting once when the MySQL server dropped this
     * reader's connection (a restart or a KILL in DatabaseRestartTest): the
     * reader must outlive the faults it watches.
     */
    private function run(string $sql, array $params = []): PDOStatement
    {
        for ($try = 0; ; $try++) {
            try {
                $st = $this->pdo->prepare($this->sql($sql));
                $st->execute($params);

                return $st;
            } catch (PDOException $e) {
                if (!$this->mysql || $try > 0 || $this->pdo->inTransaction() || !self::isConnectionLost($e)) {
                    throw $e;
                }
                $this->connect();
            }
        }
    }

    /** MySQL client errors of a lost connection: 2006 gone away, 2013 lost during query, 1927 killed. */
    private static function isConnectionLost(PDOException $e): bool
    {
        $code = (int) ($e->errorInfo[1] ?? 0);

        return in_array($code, [2006, 2013, 1927, 4031], true) || stripos($e->getMessage(), 'gone away') !== false;
    }

    /**
     * Rows in id order, the id column named id_shoppingfeed_order on both stores.
     *
     * @return list<array<string, mixed>>
     */
    public function rows(string $where = '1', array $params = []): array
    {
        $select = $this->mysql ? '{id} AS id_shoppingfeed_order, q.*' : '*';

        return $this->run("SELECT $select FROM {queue} q WHERE $where ORDER BY {id}", $params)->fetchAll();
    }

    public function scalar(string $sql, array $params = [])
    {
        return $this->run($sql, $params)->fetchColumn();
    }

    /** A statement that writes (test-only changes); returns the rows it touched. */
    public function exec(string $sql, array $params = []): int
    {
        return $this->run($sql, $params)->rowCount();
    }

    /** state => count, all four states present. */
    public function counts(): array
    {
        $out = ['pending' => 0, 'sent' => 0, 'done' => 0, 'failed' => 0];
        foreach ($this->run('SELECT state, COUNT(*) AS n FROM {queue} GROUP BY state')->fetchAll() as $r) {
            $out[$r['state']] = (int) $r['n'];
        }

        return $out;
    }

    /**
     * Rows leased now (locked_by set, lease not ended), by claim token. "Now"
     * is the clock the store's times come from: this machine's on SQLite,
     * the database server's (UNIX_TIMESTAMP()) on MySQL.
     */
    public function liveLeases(): array
    {
        $out = [];
        $now = $this->mysql ? 'UNIX_TIMESTAMP()' : (string) time();
        foreach ($this->run("SELECT {id} AS id, locked_by FROM {queue} WHERE locked_by IS NOT NULL AND locked_until >= $now")->fetchAll() as $r) {
            $out[$r['locked_by']][] = (int) $r['id'];
        }

        return $out;
    }

    /** Test-only time travel: every waiting row due now (the retry delays are checked before). */
    public function makeDue(): int
    {
        return $this->exec("UPDATE {queue} SET update_at = 0 WHERE state IN ('pending', 'sent') AND update_at > 0");
    }

    /**
     * 'ok' when the store finds nothing wrong with the queue: SQLite's
     * PRAGMA integrity_check of the file; MySQL's CHECK TABLE of the table
     * (its last Msg_text, 'OK', lowered), else what they said.
     */
    public function integrity(): string
    {
        if (!$this->mysql) {
            return (string) $this->run('PRAGMA integrity_check')->fetchColumn();
        }
        $rows = $this->run('CHECK TABLE {queue}')->fetchAll();
        $last = end($rows);
        $text = is_array($last) ? (string) ($last['Msg_text'] ?? '') : '';

        return strtolower($text) === 'ok' ? 'ok' : json_encode($rows);
    }

    /**
     * The tables of this queue's namespace: on SQLite every table of the file
     * but SQLite's own; on MySQL every table of the database whose name
     * starts with the prefix. A queue holds exactly one.
     *
     * @return list<string>
     */
    public function tables(): array
    {
        if (!$this->mysql) {
            return $this->run("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")->fetchAll(PDO::FETCH_COLUMN);
        }
        $prefix = self::mysqlConfig($this->database)['prefix'];
        if ($prefix === '') {
            return $this->run('SHOW TABLES')->fetchAll(PDO::FETCH_COLUMN);
        }

        return $this->run('SHOW TABLES LIKE ' . $this->pdo->quote(addcslashes($prefix, '_%\\') . '%'))->fetchAll(PDO::FETCH_COLUMN);
    }

    /**
     * A value that changes when the queue changed, for the fuzzer's "a
     * rejected call committed nothing": SQLite's PRAGMA data_version (changes
     * when any other connection commits); MySQL's CHECKSUM TABLE (changes
     * when any row's content changes: a commit that changes no value is not
     * seen, which the extension's writes never are: each sets date_upd,
     * attempts, state or adds/removes a row).
     */
    public function changeMark(): string
    {
        if (!$this->mysql) {
            return (string) $this->run('PRAGMA data_version')->fetchColumn();
        }
        $row = $this->run('CHECKSUM TABLE {queue}')->fetch();

        return (string) ($row['Checksum'] ?? '');
    }

    /**
     * Every stored byte of the queue as text, for greps (the token, the
     * password): the SQLite files (database, -wal, -shm) as they are on
     * disk; on MySQL every column of every row as the server returns it.
     *
     * @return array<string, string> label => content
     */
    public function storedTexts(): array
    {
        if (!$this->mysql) {
            $out = [];
            foreach (['', '-wal', '-shm'] as $suffix) {
                $out["file queue.sqlite$suffix"] = (string) @file_get_contents($this->database . $suffix);
            }

            return $out;
        }

        return ["table {$this->table}" => json_encode($this->run('SELECT * FROM {queue}')->fetchAll(), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE)];
    }

    /**
     * Holds the queue's write lock as another process would (a backup, a long
     * transaction) until releaseWriteLock(): SQLite's BEGIN IMMEDIATE; on
     * MySQL a transaction that locks every row and the gaps between and after
     * them (SELECT ... FOR UPDATE under REPEATABLE READ, on the primary key),
     * so that saves (inserts) and settles (updates) wait for it.
     */
    public function holdWriteLock(): void
    {
        if (!$this->mysql) {
            $this->pdo->exec('BEGIN IMMEDIATE');

            return;
        }
        $this->pdo->exec('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        $this->pdo->beginTransaction();
        $this->pdo->query($this->sql('SELECT {id} FROM {queue} ORDER BY {id} FOR UPDATE'))->fetchAll();
    }

    public function releaseWriteLock(bool $commit = true): void
    {
        if (!$this->mysql) {
            $this->pdo->exec($commit ? 'COMMIT' : 'ROLLBACK');

            return;
        }
        $commit ? $this->pdo->commit() : $this->pdo->rollBack();
        $this->pdo->exec('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    }

    /** This reader's own server-side connection id (MySQL), to leave it out of KILLs. */
    public function connectionId(): int
    {
        return $this->mysql ? (int) $this->run('SELECT CONNECTION_ID()')->fetchColumn() : 0;
    }

    public function pdo(): PDO
    {
        return $this->pdo;
    }
}
