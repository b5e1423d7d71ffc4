<?php
/** Stand-in for PrestaShop's Tools: ucfirst, getValue (from $_POST then $_GET), strtolower. */
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
}
