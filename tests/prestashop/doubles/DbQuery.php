<?php
/**
 * Stand-in for PrestaShop's DbQuery: select/from/join/where/groupBy/orderBy/
 * limit builder; from() and the joins take table names WITHOUT prefix (the
 * prefix is added, as in PrestaShop); where() calls are ANDed, each in
 * parentheses. build() / (string) give the SQL.
 */
class DbQuery
{
    private $select = [];
    private $from = [];
    private $join = [];
    private $where = [];
    private $group = [];
    private $order = [];
    private $limit = '';

    public function select($fields)
    {
        if (!empty($fields)) {
            $this->select[] = $fields;
        }

        return $this;
    }

    public function from($table, $alias = null)
    {
        if (!empty($table)) {
            $this->from[] = '`' . _DB_PREFIX_ . $table . '`' . ($alias ? ' ' . $alias : '');
        }

        return $this;
    }

    public function join($join)
    {
        $this->join[] = $join;

        return $this;
    }

    public function leftJoin($table, $alias = null, $on = null)
    {
        return $this->join('LEFT JOIN `' . _DB_PREFIX_ . bqSQL($table) . '`' . ($alias ? ' `' . pSQL($alias) . '`' : '') . ($on ? ' ON ' . $on : ''));
    }

    public function innerJoin($table, $alias = null, $on = null)
    {
        return $this->join('INNER JOIN `' . _DB_PREFIX_ . bqSQL($table) . '`' . ($alias ? ' `' . pSQL($alias) . '`' : '') . ($on ? ' ON ' . $on : ''));
    }

    public function where($restriction)
    {
        if (!empty($restriction)) {
            $this->where[] = $restriction;
        }

        return $this;
    }

    public function groupBy($fields)
    {
        $this->group[] = $fields;

        return $this;
    }

    public function orderBy($fields)
    {
        if (!empty($fields)) {
            $this->order[] = $fields;
        }

        return $this;
    }

    public function limit($limit, $offset = 0)
    {
        $this->limit = (int) $offset > 0 ? (int) $offset . ', ' . (int) $limit : (string) (int) $limit;

        return $this;
    }

    public function build()
    {
        if (!$this->from) {
            throw new RuntimeException('DbQuery: no table (from())');
        }
        $sql = 'SELECT ' . ($this->select ? implode(",\n", $this->select) : '*') . "\nFROM " . implode(', ', $this->from);
        if ($this->join) {
            $sql .= "\n" . implode("\n", $this->join);
        }
        if ($this->where) {
            $sql .= "\nWHERE (" . implode(")\n\tAND (", $this->where) . ')';
        }
        if ($this->group) {
            $sql .= "\nGROUP BY " . implode(', ', $this->group);
        }
        if ($this->order) {
            $sql .= "\nORDER BY " . implode(', ', $this->order);
        }
        if ($this->limit !== '') {
            $sql .= "\nLIMIT " . $this->limit;
        }

        return $sql;
    }

    public function __toString()
    {
        return $this->build();
    }
}
