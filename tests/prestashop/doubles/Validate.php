<?php
/** Stand-in for PrestaShop's Validate: isLoadedObject (an object with a non-empty id) and a few checks. */
class Validate
{
    public static function isLoadedObject($object)
    {
        return is_object($object) && !empty($object->id);
    }

    public static function isUnsignedInt($v)
    {
        return (string) (int) $v === (string) $v && $v >= 0;
    }

    public static function isTrackingNumber($v)
    {
        return (bool) preg_match('/^[~:#,%&_=\(\)\[\]\.\? \+\-@\/a-zA-Z0-9]+$/', (string) $v);
    }
}
