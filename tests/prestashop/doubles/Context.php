<?php
/**
 * Stand-in for PrestaShop's Context: getContext() gives one shared object
 * with shop (a Shop stand-in, id 1 unless set), language (id 1),
 * currency (id 1), employee (null), controller (null), smarty (null),
 * link (null), cookie (an stdClass). Context::resetContext() for tests.
 */
class Context
{
    /** @var Context|null */
    private static $instance;

    public $shop;
    public $language;
    public $currency;
    public $employee;
    public $customer;
    public $cart;
    public $controller;
    public $smarty;
    public $link;
    public $cookie;

    public static function getContext()
    {
        if (self::$instance === null) {
            self::$instance = new self();
            self::$instance->shop = new Shop(1);
            self::$instance->language = (object) ['id' => 1, 'iso_code' => 'en'];
            self::$instance->currency = (object) ['id' => 1, 'iso_code' => 'EUR'];
            self::$instance->cookie = new stdClass();
        }

        return self::$instance;
    }

    public static function resetContext()
    {
        self::$instance = null;
    }
}
