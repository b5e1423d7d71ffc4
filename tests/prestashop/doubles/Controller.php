<?php
/**
 * Stand-ins for PrestaShop's Controller, FrontController and
 * ModuleFrontController, as far as the module's crons use them:
 * run() = init(), then checkAccess() ? postProcess() + initContent() :
 * initCursedPage(); FrontController::$initialized (syncAll resets it);
 * ajaxRender() echoes; ajaxDie() echoes and exits (PrestaShop 8 throws a
 * "die" after output; exiting is what the CLI sees).
 * ModuleFrontController::__construct() takes its module from
 * Tools::getValue('module') (the Dispatcher sets it), as PrestaShop does.
 */
abstract class Controller
{
    /** @var Context */
    public $context;
    public $ajax = false;
    public $controller_type;
    public $php_self;

    public function __construct()
    {
        $this->context = Context::getContext();
        if ($this->context->controller === null) {
            $this->context->controller = $this;
        }
    }

    public function run()
    {
        $this->init();
        if ($this->checkAccess()) {
            $this->postProcess();
            $this->initContent();
        } else {
            $this->initCursedPage();
        }
    }

    public function init()
    {
    }

    public function checkAccess()
    {
        return true;
    }

    public function initCursedPage()
    {
    }

    public function postProcess()
    {
    }

    public function initContent()
    {
    }

    protected function ajaxRender($value = null, $controller = null, $method = null)
    {
        echo $value;
    }

    protected function ajaxDie($value = null, $controller = null, $method = null)
    {
        $this->ajaxRender($value, $controller, $method);
        exit;
    }
}

class FrontController extends Controller
{
    public static $initialized = false;
    public $auth = false;
    public $ssl = false;

    public function __construct()
    {
        $this->controller_type = 'front';
        parent::__construct();
    }

    public function init()
    {
        self::$initialized = true;
        parent::init();
    }
}

class ModuleFrontController extends FrontController
{
    /** @var Module|false */
    public $module;

    public function __construct()
    {
        $this->module = Module::getInstanceByName((string) Tools::getValue('module'));
        if (!$this->module) {
            throw new RuntimeException('ModuleFrontController: no module "' . Tools::getValue('module') . '" (set $_GET[\'module\'], as the Dispatcher does)');
        }
        parent::__construct();
        $this->controller_type = 'modulefront';
    }
}
