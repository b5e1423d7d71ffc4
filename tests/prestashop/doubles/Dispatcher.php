<?php
/**
 * Stand-in for PrestaShop 8's Dispatcher, module front controllers only
 * (fc=module). getModuleController($root, $module, $controller) does what
 * Dispatcher::dispatch() does for them: include_once
 * <root>/modules/<module>/controllers/front/<controller>.php, then, when
 * <root>/override/modules/<module>/controllers/front/<controller>.php exists,
 * include_once that too and instantiate
 * <module><controller>ModuleFrontControllerOverride, else
 * <module><controller>ModuleFrontController. The module must be installed
 * and active (else PrestaShop shows its 404 page: here a RuntimeException).
 * It sets $_GET['module'] / $_GET['controller'] when unset (the
 * controller's constructor reads them). dispatch() runs the controller of
 * the request ($_GET fc, module, controller), as index.php does.
 */
class Dispatcher
{
    const FC_FRONT = 1;
    const FC_ADMIN = 2;
    const FC_MODULE = 3;

    /** @var Dispatcher|null */
    private static $instance;

    public static function getInstance()
    {
        return self::$instance ?: (self::$instance = new self());
    }

    /**
     * @param string|null $root the shop's root (null: _PS_ROOT_DIR_)
     *
     * @return ModuleFrontController
     */
    public static function getModuleController($root, $module, $controller)
    {
        $root = rtrim($root === null ? _PS_ROOT_DIR_ : (string) $root, '/');
        if (!preg_match('/^[a-zA-Z0-9_-]+$/', (string) $module) || !preg_match('/^[a-zA-Z0-9_-]+$/', (string) $controller)) {
            throw new RuntimeException('Dispatcher: bad module or controller name');
        }
        if (!isset($_GET['module'])) {
            $_GET['module'] = $module;
        }
        if (!isset($_GET['controller'])) {
            $_GET['controller'] = $controller;
        }
        $instance = Module::getInstanceByName($module);
        if (!Validate::isLoadedObject($instance) || !$instance->active || !Module::isEnabled($module)) {
            throw new RuntimeException("Dispatcher: module $module is not installed and active (PrestaShop: page not found)");
        }
        $file = "$root/modules/$module/controllers/front/$controller.php";
        if (!is_file($file)) {
            throw new RuntimeException("Dispatcher: no front controller $controller in module $module (PrestaShop: page not found)");
        }
        include_once $file;
        $override = "$root/override/modules/$module/controllers/front/$controller.php";
        if (file_exists($override)) {
            include_once $override;
            $class = $module . $controller . 'ModuleFrontControllerOverride';
        } else {
            $class = $module . $controller . 'ModuleFrontController';
        }

        return new $class();
    }

    /** Runs the module front controller of the request (index.php?fc=module&module=...&controller=...). */
    public function dispatch()
    {
        if (Tools::getValue('fc') !== 'module') {
            throw new RuntimeException('Dispatcher stand-in: only fc=module is supported');
        }
        $controller = self::getModuleController(null, (string) Tools::getValue('module'), (string) Tools::getValue('controller'));
        $controller->run();
    }
}
