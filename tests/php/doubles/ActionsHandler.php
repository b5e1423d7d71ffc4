<?php
/**
 * Test double of classlib's ActionsHandler, written from the facts in
 * shared/docs/prestashop-integration.md:
 *
 * - setConveyor(array) replaces the conveyor; addActions(...$names) replaces
 *   the list of action names; getConveyor() gives the conveyor back;
 * - process($name): when $name is not a class, builds ucfirst($name).'Actions'
 *   (letters only, else an exception), include_once's
 *   <module>/classes/actions/<Class>.php, then, when it exists,
 *   <override>/classes/actions/<Class>.php and uses <Class>Override;
 *   the hook actionShoppingfeedActionsHandler may substitute another class;
 *   creates the object with no argument, setModelObject(model or null),
 *   setConveyor(conveyor), calls each action in order, skips names that are
 *   not callable, stops at the first falsy return, and copies the conveyor
 *   back (also when the chain stops).
 */
class ActionsHandler
{
    /** @var string the module's folder, with a trailing slash (PrestaShop: _PS_MODULE_DIR_.'shoppingfeed/') */
    public static $moduleDir = '';
    /** @var string the module's override folder (PrestaShop: _PS_OVERRIDE_DIR_.'modules/shoppingfeed/') */
    public static $overrideDir = '';
    /** @var list<string> class names instantiated by process(), for assertions */
    public static $instantiated = [];

    /** @var mixed */
    protected $modelObject;
    /** @var array */
    protected $conveyor = [];
    /** @var string[] */
    protected $actions = [];

    public static function reset(): void
    {
        self::$instantiated = [];
    }

    public function setModelObject($modelObject)
    {
        $this->modelObject = $modelObject;

        return $this;
    }

    public function setConveyor($conveyorData)
    {
        $this->conveyor = $conveyorData;

        return $this;
    }

    public function getConveyor()
    {
        return $this->conveyor;
    }

    public function addActions(...$actions)
    {
        $this->actions = $actions;

        return $this;
    }

    /**
     * @return bool false when an action returned a falsy value
     *
     * @throws Exception when the class name is not valid or the class does not exist
     */
    public function process($className)
    {
        if (!class_exists($className)) {
            $className = ucfirst((string) $className) . 'Actions';
            if (!preg_match('/^[a-zA-Z]+$/', $className)) {
                throw new Exception('"' . $className . '" class name not valid');
            }
            include_once self::$moduleDir . 'classes/actions/' . $className . '.php';
            $overridePath = self::$overrideDir . 'classes/actions/' . $className . '.php';
            if (self::$overrideDir !== '' && file_exists($overridePath)) {
                include_once $overridePath;
                $className .= 'Override';
            }
        }

        if (class_exists('Hook')) {
            $substitutes = Hook::exec('actionShoppingfeedActionsHandler', ['className' => $className], null, true);
            foreach ((array) $substitutes as $substitute) {
                if (is_string($substitute) && $substitute !== '' && class_exists($substitute)) {
                    $className = $substitute;
                    break;
                }
            }
        }

        if (!class_exists($className)) {
            throw new Exception('"' . $className . '" class not defined');
        }

        $classAction = new $className();
        self::$instantiated[] = get_class($classAction);
        $classAction->setModelObject($this->modelObject);
        $classAction->setConveyor($this->conveyor);

        foreach ($this->actions as $action) {
            if (!is_callable([$classAction, $action])) {
                continue;
            }
            if (!call_user_func([$classAction, $action])) {
                $this->setConveyor($classAction->getConveyor());

                return false;
            }
        }
        $this->setConveyor($classAction->getConveyor());

        return true;
    }
}
