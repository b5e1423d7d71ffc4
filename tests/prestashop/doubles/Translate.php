<?php
/** Stand-in for PrestaShop's Translate: getModuleTranslation returns the source string untranslated. */
class Translate
{
    public static function getModuleTranslation($module, $string, $source, $sprintf = null, $js = false, $locale = null)
    {
        return $sprintf ? vsprintf($string, (array) $sprintf) : $string;
    }
}
