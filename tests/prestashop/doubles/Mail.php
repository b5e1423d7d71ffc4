<?php
/**
 * Stand-in for PrestaShop's Mail: Send() records the mail instead of
 * sending it: in Mail::$sent (this process) and, when Mail::$logFile is set
 * (config/config.inc.php of a ShopRoot sets <root>/var/mails.jsonl), as a
 * JSON line there, so that a test reads what a child process sent.
 * Returns 1 (one mail sent), as PrestaShop does.
 */
class Mail
{
    const TYPE_HTML = 1;
    const TYPE_TEXT = 2;
    const TYPE_BOTH = 3;

    /** @var list<array> */
    public static $sent = [];
    /** @var string|null */
    public static $logFile;

    public static function Send($idLang, $template, $subject, $templateVars, $to, $toName = null, $from = null, $fromName = null,
        $fileAttachment = null, $modeSmtp = null, $templatePath = null, $die = false, $idShop = null, $bcc = null, $replyTo = null,
        $replyToName = null)
    {
        $mail = ['id_lang' => (int) $idLang, 'template' => (string) $template, 'subject' => (string) $subject,
            'template_vars' => is_array($templateVars) ? $templateVars : [], 'to' => $to, 'to_name' => $toName,
            'template_path' => (string) ($templatePath ?? (defined('_PS_MAIL_DIR_') ? _PS_MAIL_DIR_ : '')), 'id_shop' => $idShop === null ? null : (int) $idShop];
        self::$sent[] = $mail;
        if (self::$logFile) {
            file_put_contents(self::$logFile, json_encode($mail) . "\n", FILE_APPEND | LOCK_EX);
        }

        return 1;
    }

    public static function reset()
    {
        self::$sent = [];
    }
}
