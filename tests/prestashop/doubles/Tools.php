<?php
/** Stand-in for PrestaShop's Tools: ucfirst, getValue (from $_POST then $_GET), getIsset/isSubmit, strtolower, encrypt/hash (md5 with _COOKIE_KEY_). */
class Tools
{
    public static function ucfirst($str)
    {
        return ucfirst((string) $str);
    }

    public static function strtolower($str)
    {
        return strtolower((string) $str);
    }

    public static function getValue($key, $default = false)
    {
        if (isset($_POST[$key])) {
            return $_POST[$key];
        }

        return isset($_GET[$key]) ? $_GET[$key] : $default;
    }

    public static function getIsset($key)
    {
        return isset($_POST[$key]) || isset($_GET[$key]);
    }

    public static function isSubmit($submit)
    {
        return self::getIsset($submit);
    }

    public static function encrypt($passwd)
    {
        return md5((defined('_COOKIE_KEY_') ? _COOKIE_KEY_ : '') . $passwd);
    }

    public static function hash($passwd)
    {
        return self::encrypt($passwd);
    }
}
