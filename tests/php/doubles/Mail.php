<?php
/**
 * Test double of PrestaShop's Mail: Send() records its arguments and succeeds.
 */
class Mail
{
    /** @var list<array<string, mixed>> */
    public static $sent = [];
    /** @var bool what Send() answers */
    public static $result = true;

    public static function reset(): void
    {
        self::$sent = [];
        self::$result = true;
    }

    public static function Send(
        $idLang,
        $template,
        $subject,
        $templateVars,
        $to,
        $toName = null,
        $from = null,
        $fromName = null,
        $fileAttachment = null,
        $mode_smtp = null,
        $templatePath = null,
        $die = false,
        $idShop = null,
        $bcc = null,
        $replyTo = null,
        $replyToName = null
    ) {
        self::$sent[] = [
            'id_lang' => $idLang,
            'template' => $template,
            'subject' => $subject,
            'template_vars' => $templateVars,
            'to' => $to,
            'to_name' => $toName,
            'template_path' => $templatePath,
            'id_shop' => $idShop,
        ];

        return self::$result;
    }
}
