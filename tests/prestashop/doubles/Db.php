<?php
/**
 * Stand-in for PrestaShop's Db: one shared PDO (MySQL/MariaDB) connection.
 * Follows PrestaShop's API: Db::getInstance(), executeS() (rows), getRow()
 * (first row or false), getValue() (first column of first row or false),
 * execute(), insert()/update()/delete() taking a table name WITHOUT prefix,
 * escape(), Insert_ID(). Values come back as strings (as with PHP < 8.1's
 * MySQL drivers, which shop code still assumes). Db::connect() is the test's setup call.
 */
class Db
{
    private static $instance;
    private $pdo;
    private $prefix;

    public static function connect($dsn, $user, $pass, $prefix)
    {
        $pdo = new PDO($dsn, $user, $pass, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC, PDO::ATTR_EMULATE_PREPARES => true, PDO::ATTR_STRINGIFY_FETCHES => true]);
        $pdo->exec("SET NAMES utf8mb4, sql_mode = 'NO_ENGINE_SUBSTITUTION'");
        self::$instance = new self();
        self::$instance->pdo = $pdo;
        self::$instance->prefix = $prefix;
        if (!defined('_DB_PREFIX_')) {
            define('_DB_PREFIX_', $prefix);
        }

        return self::$instance;
    }

    public static function getInstance($master = true)
    {
        if (!self::$instance) {
            throw new RuntimeException('Db::connect() was not called');
        }

        return self::$instance;
    }

    public function getPdo()
    {
        return $this->pdo;
    }

    public function getPrefix()
    {
        return $this->prefix;
    }

    public function executeS($sql, $array = true, $useCache = true)
    {
        return $this->pdo->query((string) $sql)->fetchAll();
    }

    public function getRow($sql, $useCache = true)
    {
        $sql = (string) $sql;
        if (!preg_match('/\blimit\s+\d+/i', $sql)) {
            $sql = rtrim($sql, " ;\n") . ' LIMIT 1';
        }
        $row = $this->pdo->query($sql)->fetch();

        return $row === false ? false : $row;
    }

    public function getValue($sql, $useCache = true)
    {
        $row = $this->getRow($sql);

        return $row === false ? false : reset($row);
    }

    public function execute($sql, $useCache = true)
    {
        $this->pdo->exec((string) $sql);

        return true;
    }

    public function insert($table, $data, $nullValues = false, $useCache = true, $type = 1, $addPrefix = true)
    {
        $rows = isset($data[0]) && is_array($data[0]) ? $data : [$data];
        $table = ($addPrefix ? $this->prefix : '') . $table;
        foreach ($rows as $row) {
            $cols = implode(', ', array_map(function ($c) { return '`' . $c . '`'; }, array_keys($row)));
            $vals = implode(', ', array_map([$this, 'quote'], array_values($row)));
            $this->pdo->exec("INSERT INTO `$table` ($cols) VALUES ($vals)");
        }

        return true;
    }

    public function update($table, $data, $where = '', $limit = 0, $nullValues = false, $useCache = true, $addPrefix = true)
    {
        $sets = [];
        foreach ($data as $col => $value) {
            $sets[] = '`' . $col . '` = ' . $this->quote($value);
        }
        $sql = 'UPDATE `' . ($addPrefix ? $this->prefix : '') . $table . '` SET ' . implode(', ', $sets)
            . ($where ? ' WHERE ' . $where : '') . ($limit ? ' LIMIT ' . (int) $limit : '');
        $this->pdo->exec($sql);

        return true;
    }

    public function delete($table, $where = '', $limit = 0, $useCache = true, $addPrefix = true)
    {
        $this->pdo->exec('DELETE FROM `' . ($addPrefix ? $this->prefix : '') . $table . '`'
            . ($where ? ' WHERE ' . $where : '') . ($limit ? ' LIMIT ' . (int) $limit : ''));

        return true;
    }

    public function escape($string, $htmlOk = false, $bqSql = false)
    {
        return substr($this->pdo->quote((string) $string), 1, -1);
    }

    public function Insert_ID()
    {
        return (int) $this->pdo->lastInsertId();
    }

    public function numRows()
    {
        return 0;
    }

    private function quote($value)
    {
        if ($value === null) {
            return 'NULL';
        }
        if (is_bool($value)) {
            return $value ? '1' : '0';
        }

        return $this->pdo->quote((string) $value);
    }
}
