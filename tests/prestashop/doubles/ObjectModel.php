<?php
/**
 * Stand-in for PrestaShop's ObjectModel: a row of static::$definition['table']
 * keyed by its 'primary'; the constructor loads by id (id stays null when no
 * row), add() inserts (fills date_add/date_upd when declared), update(),
 * delete(). Only the 'fields' of the definition are written.
 */
#[\AllowDynamicProperties]
abstract class ObjectModel
{
    const TYPE_INT = 1;
    const TYPE_BOOL = 2;
    const TYPE_STRING = 3;
    const TYPE_FLOAT = 4;
    const TYPE_DATE = 5;
    const TYPE_HTML = 6;
    const TYPE_NOTHING = 7;
    const HAS_ONE = 1;
    const HAS_MANY = 2;

    public $id;
    public static $definition = [];

    public function __construct($id = null, $idLang = null, $idShop = null)
    {
        if ($id) {
            $def = static::$definition;
            $row = Db::getInstance()->getRow('SELECT * FROM ' . _DB_PREFIX_ . $def['table']
                . ' WHERE `' . $def['primary'] . '` = ' . (int) $id);
            if ($row) {
                $this->hydrate($row);
            }
        }
    }

    public function hydrate(array $row)
    {
        $def = static::$definition;
        foreach ($row as $k => $v) {
            $this->$k = $v;
        }
        $this->id = isset($row[$def['primary']]) ? (int) $row[$def['primary']] : null;

        return $this;
    }

    /** PrestaShop's ObjectModel::getDefinition($class or object): the class's $definition. */
    public static function getDefinition($class, $field = null)
    {
        $class = is_object($class) ? get_class($class) : $class;
        $def = $class::$definition;

        return $field === null ? $def : ($def['fields'][$field] ?? null);
    }

    protected function getFields()
    {
        $out = [];
        foreach (static::$definition['fields'] as $name => $f) {
            if (property_exists($this, $name) || isset($this->$name)) {
                $v = $this->$name;
                if ($v === null) {
                    continue; // unset properties keep the column's default (a double cannot write NULL back)
                }
                if ($v !== null && isset($f['type']) && in_array($f['type'], [self::TYPE_INT, self::TYPE_BOOL], true)) {
                    $v = (int) $v;
                }
                $out[$name] = $v;
            }
        }

        return $out;
    }

    public function add($autoDate = true, $nullValues = false)
    {
        $def = static::$definition;
        $now = date('Y-m-d H:i:s');
        foreach (['date_add', 'date_upd'] as $d) {
            if ($autoDate && isset($def['fields'][$d]) && empty($this->$d)) {
                $this->$d = $now;
            }
        }
        $db = Db::getInstance();
        $db->insert($def['table'], $this->getFields());
        $this->id = $db->Insert_ID();
        $this->{$def['primary']} = $this->id;

        return true;
    }

    public function update($nullValues = false)
    {
        $def = static::$definition;
        if (isset($def['fields']['date_upd'])) {
            $this->date_upd = date('Y-m-d H:i:s');
        }

        return Db::getInstance()->update($def['table'], $this->getFields(), '`' . $def['primary'] . '` = ' . (int) $this->id);
    }

    public function save()
    {
        return $this->id ? $this->update() : $this->add();
    }

    public function delete()
    {
        $def = static::$definition;

        return Db::getInstance()->delete($def['table'], '`' . $def['primary'] . '` = ' . (int) $this->id);
    }
}
