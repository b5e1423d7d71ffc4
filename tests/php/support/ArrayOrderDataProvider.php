<?php
/**
 * An order data provider fed with arrays (the hook's tests).
 */
final class ArrayOrderDataProvider implements ShoppingfeedOrderDataProvider
{
    /** @var array<int, array> */
    private $orders;
    /** @var list<int> ids asked for */
    public $asked = [];

    public function __construct(array $orders)
    {
        $this->orders = $orders;
    }

    public function getOrderData(int $idOrder): ?array
    {
        $this->asked[] = $idOrder;

        return $this->orders[$idOrder] ?? null;
    }
}
