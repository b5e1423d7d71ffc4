<?php
/**
 * Stand-in for PrestaShop's Hook, backed by the `hook` and `hook_module`
 * tables. exec($name, $params, $idModule, $arrayReturn): calls
 * hook<Name>($params) on each active module registered for the hook (in
 * position order, for the current shop), or only $idModule; returns the
 * concatenated string outputs, or with $arrayReturn an array keyed by module
 * name. Hook names are case-insensitive, as in PrestaShop.
 */
class Hook
{
    /** id_shop the hooks run for (PrestaShop: the context shop). */
    public static $idShop = 1;

    public static function getIdByName($name)
    {
        $db = Db::getInstance();

        return (int) $db->getValue('SELECT id_hook FROM ' . _DB_PREFIX_ . "hook WHERE name = '" . $db->escape($name) . "'");
    }

    public static function register($idModule, $name, $idShop = null)
    {
        $db = Db::getInstance();
        $idHook = self::getIdByName($name);
        if (!$idHook) {
            $db->insert('hook', ['name' => $name, 'title' => $name]);
            $idHook = $db->Insert_ID();
        }
        $idShop = (int) ($idShop ?: self::$idShop);
        if ($db->getValue('SELECT 1 FROM ' . _DB_PREFIX_ . 'hook_module WHERE id_module = ' . (int) $idModule
            . ' AND id_hook = ' . $idHook . ' AND id_shop = ' . $idShop)) {
            return true;
        }
        $pos = (int) $db->getValue('SELECT MAX(position) FROM ' . _DB_PREFIX_ . 'hook_module WHERE id_hook = ' . $idHook . ' AND id_shop = ' . $idShop);

        return $db->insert('hook_module', ['id_module' => (int) $idModule, 'id_shop' => $idShop, 'id_hook' => $idHook, 'position' => $pos + 1]);
    }

    public static function exec($hookName, $hookArgs = [], $idModule = null, $arrayReturn = false, $checkExceptions = true,
        $usePush = false, $idShop = null, $chain = false)
    {
        $idHook = self::getIdByName($hookName);
        $out = $arrayReturn ? [] : '';
        if (!$idHook) {
            return $out;
        }
        $rows = Db::getInstance()->executeS('SELECT m.id_module, m.name FROM ' . _DB_PREFIX_ . 'hook_module hm JOIN '
            . _DB_PREFIX_ . 'module m ON m.id_module = hm.id_module WHERE m.active = 1 AND hm.id_hook = ' . $idHook
            . ' AND hm.id_shop = ' . (int) ($idShop ?: self::$idShop) . ($idModule ? ' AND m.id_module = ' . (int) $idModule : '')
            . ' ORDER BY hm.position');
        foreach ($rows as $row) {
            $module = Module::getInstanceByName($row['name']);
            $method = 'hook' . ucfirst($hookName);
            if (!$module || !is_callable([$module, $method])) {
                continue;
            }
            $r = $module->$method($hookArgs);
            if ($arrayReturn) {
                $out[$row['name']] = $r;
            } elseif (is_string($r) || is_numeric($r)) {
                $out .= $r;
            }
        }

        return $out;
    }
}
