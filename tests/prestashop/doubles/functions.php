<?php
/**
 * PrestaShop's global helpers the module and the integration call:
 * pSQL() (escape for a quoted SQL string), bqSQL() (escape for a
 * back-quoted name), and the constant _PS_USE_SQL_SLAVE_.
 */
if (!defined('_PS_USE_SQL_SLAVE_')) {
    define('_PS_USE_SQL_SLAVE_', false);
}

if (!function_exists('pSQL')) {
    function pSQL($string, $htmlOK = false)
    {
        return Db::getInstance()->escape($string, $htmlOK);
    }
}

if (!function_exists('bqSQL')) {
    function bqSQL($string)
    {
        return str_replace('`', '\`', pSQL($string));
    }
}
