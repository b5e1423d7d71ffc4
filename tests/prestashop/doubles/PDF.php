<?php
/**
 * Stand-in for PrestaShop's PDF: new PDF($objects, PDF::TEMPLATE_INVOICE, $smarty)
 * and render(false) give a small deterministic "PDF" naming the invoices
 * (id_order_invoice and number), so a test can see which invoice was sent.
 */
class PDF
{
    const TEMPLATE_INVOICE = 'Invoice';
    const TEMPLATE_ORDER_SLIP = 'OrderSlip';
    const TEMPLATE_DELIVERY_SLIP = 'DeliverySlip';

    public $objects;
    public $template;
    public $filename = '';

    public function __construct($objects, $template, $smarty = null, $orientation = 'P')
    {
        $this->objects = is_array($objects) || $objects instanceof Traversable ? $objects : [$objects];
        $this->template = $template;
    }

    public function render($display = true)
    {
        $parts = [];
        foreach ($this->objects as $o) {
            $parts[] = get_class($o) . ' ' . (int) $o->id . (isset($o->number) ? ' #' . $o->number : '');
        }
        $this->filename = strtolower($this->template) . '-' . (isset($parts[0]) ? preg_replace('/\D+/', '', $parts[0]) : '0') . '.pdf';
        $pdf = "%PDF-1.4\n% stand-in " . $this->template . ': ' . implode(', ', $parts) . "\n%%EOF\n";
        if ($display) {
            echo $pdf;
        }

        return $pdf;
    }
}
