<?php
/** Stand-in for PrestaShop's OrderHistory: changeIdOrderState() sets orders.current_state and fires actionOrderStatusPostUpdate (['newOrderStatus' => OrderState, 'id_order' => ...]); add() writes the history row (PrestaShop 8 fires the hook inside changeIdOrderState). */
class OrderHistory extends ObjectModel
{
    public $id_employee;
    public $id_order;
    public $id_order_state;
    public $date_add;
    public static $definition = ['table' => 'order_history', 'primary' => 'id_order_history', 'fields' => [
        'id_employee' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_order' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_order_state' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'date_add' => ['type' => self::TYPE_DATE, 'allow_null' => true],
    ]];

    public function changeIdOrderState($newOrderState, $idOrder, $useExistingPayment = false)
    {
        $order = $idOrder instanceof Order ? $idOrder : new Order((int) $idOrder);
        $newOs = new OrderState((int) $newOrderState, $order->id_lang);
        $oldOs = new OrderState((int) $order->current_state, $order->id_lang);
        $this->id_order = $order->id;
        $this->id_order_state = (int) $newOrderState;
        Hook::exec('actionOrderStatusUpdate', ['newOrderStatus' => $newOs, 'oldOrderStatus' => $oldOs, 'id_order' => (int) $order->id]);
        $order->current_state = (int) $newOrderState;
        $order->valid = $newOs->logable ? 1 : 0;
        $order->update();
        Hook::exec('actionOrderStatusPostUpdate', ['newOrderStatus' => $newOs, 'oldOrderStatus' => $oldOs, 'id_order' => (int) $order->id]);

        return true;
    }

    public function add($autoDate = true, $nullValues = false)
    {
        if ($this->id_employee === null) {
            $this->id_employee = 0;
        }
        $r = parent::add($autoDate, $nullValues);
        Hook::exec('actionOrderHistoryAddAfter', ['order_history' => $this]);

        return $r;
    }
}
