<?php
/**
 * Stand-in for PrestaShop's Module. getInstanceByName($name) includes
 * <modules dir>/<name>/<name>.php and, when <override dir>/modules/<name>/<name>.php
 * exists, that file too, and instantiates <Name>Override instead of <Name>
 * (PrestaShop's module override; not when PS_DISABLE_OVERRIDES is set).
 * Instances are cached by name. The folders default to _PS_MODULE_DIR_ and
 * _PS_OVERRIDE_DIR_ when those constants exist (a ShopRoot's config.inc.php).
 * The `module` table gives ids; registerHook() / unregisterHook() write hook_module.
 */
#[\AllowDynamicProperties]
class Module
{
    /** Folder holding <name>/<name>.php (PrestaShop: _PS_MODULE_DIR_). */
    public static $modulesDir;
    /** Folder holding modules/<name>/<name>.php overrides (PrestaShop: _PS_OVERRIDE_DIR_). */
    public static $overrideDir;
    private static $instances = [];

    public $id;
    public $name;
    public $version = '1.0.0';
    public $active = true;
    public $displayName;
    public $description;
    public $author;
    public $tab;
    public $need_instance = 0;
    public $bootstrap = false;

    public function __construct($name = null)
    {
        if ($name !== null) {
            $this->name = $name;
        }
        if ($this->name) {
            $this->id = self::getModuleIdByName($this->name) ?: null;
        }
    }

    public static function getInstanceByName($name)
    {
        if (isset(self::$instances[$name])) {
            return self::$instances[$name];
        }
        if (!preg_match('/^[a-zA-Z0-9_-]+$/', $name)) {
            return false;
        }
        $class = $name;
        $modulesDir = self::$modulesDir ?: (defined('_PS_MODULE_DIR_') ? _PS_MODULE_DIR_ : '');
        $overrideDir = self::$overrideDir ?: (defined('_PS_OVERRIDE_DIR_') ? _PS_OVERRIDE_DIR_ : '');
        $file = rtrim((string) $modulesDir, '/') . "/$name/$name.php";
        if (!class_exists($name, false)) {
            if (!is_file($file)) {
                return false;
            }
            include_once $file;
        }
        $override = rtrim((string) $overrideDir, '/') . "/modules/$name/$name.php";
        if ($overrideDir && is_file($override) && !Configuration::get('PS_DISABLE_OVERRIDES')) {
            include_once $override;
            if (class_exists($name . 'Override', false)) {
                $class = $name . 'Override';
            }
        }
        if (!class_exists($class, false)) {
            return false;
        }

        return self::$instances[$name] = new $class();
    }

    public static function resetInstances()
    {
        self::$instances = [];
    }

    public static function getModuleIdByName($name)
    {
        $db = Db::getInstance();

        return (int) $db->getValue('SELECT id_module FROM ' . _DB_PREFIX_ . "module WHERE name = '" . $db->escape($name) . "'");
    }

    public static function isEnabled($name)
    {
        $db = Db::getInstance();

        return (bool) $db->getValue('SELECT active FROM ' . _DB_PREFIX_ . "module WHERE name = '" . $db->escape($name) . "'");
    }

    /** Writes the `module` row (PrestaShop's install() does more). */
    public function install()
    {
        if (!self::getModuleIdByName($this->name)) {
            Db::getInstance()->insert('module', ['name' => $this->name, 'active' => 1, 'version' => $this->version]);
        }
        $this->id = self::getModuleIdByName($this->name);

        return true;
    }

    public function registerHook($hookName, $shopList = null)
    {
        $ok = true;
        foreach ((array) $hookName as $h) {
            foreach ($shopList ? (array) $shopList : [null] as $idShop) {
                $ok = Hook::register($this->id, $h, $idShop) && $ok;
            }
        }

        return $ok;
    }

    public function unregisterHook($hookName, $shopList = null)
    {
        $idHook = Hook::getIdByName($hookName);
        if (!$idHook || !$this->id) {
            return false;
        }

        return Db::getInstance()->delete('hook_module', 'id_module = ' . (int) $this->id . ' AND id_hook = ' . (int) $idHook
            . ($shopList ? ' AND id_shop IN (' . implode(', ', array_map('intval', (array) $shopList)) . ')' : ''));
    }

    public static function isInstalled($name)
    {
        return self::getModuleIdByName($name) > 0;
    }

    public function l($string, $specific = false, $locale = null)
    {
        return Translate::getModuleTranslation($this, $string, $specific ?: $this->name);
    }
}
