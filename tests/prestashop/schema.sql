-- PrestaShop 8 core tables (the columns the Shopping Feed glue and its tests
-- touch, with PrestaShop's names and types) and the Shopping Feed module's
-- own tables (columns as its ObjectModel definitions declare them).
-- PREFIX_ is replaced by the test's table prefix at load time.
CREATE TABLE PREFIX_shop (
  id_shop INT UNSIGNED NOT NULL AUTO_INCREMENT, id_shop_group INT UNSIGNED NOT NULL DEFAULT 1,
  name VARCHAR(64) NOT NULL, color VARCHAR(50) NOT NULL DEFAULT '', id_category INT UNSIGNED NOT NULL DEFAULT 2,
  theme_name VARCHAR(255) NOT NULL DEFAULT 'classic', active TINYINT(1) UNSIGNED NOT NULL DEFAULT 1,
  deleted TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, PRIMARY KEY (id_shop), KEY IDX_SHOP_GROUP (id_shop_group, deleted)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_configuration (
  id_configuration INT UNSIGNED NOT NULL AUTO_INCREMENT, id_shop_group INT UNSIGNED DEFAULT NULL,
  id_shop INT UNSIGNED DEFAULT NULL, name VARCHAR(254) NOT NULL, value TEXT, date_add DATETIME NOT NULL,
  date_upd DATETIME NOT NULL, PRIMARY KEY (id_configuration), KEY name (name), KEY id_shop (id_shop), KEY id_shop_group (id_shop_group)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_orders (
  id_order INT UNSIGNED NOT NULL AUTO_INCREMENT, reference VARCHAR(9) DEFAULT NULL,
  id_shop_group INT UNSIGNED NOT NULL DEFAULT 1, id_shop INT UNSIGNED NOT NULL DEFAULT 1,
  id_carrier INT UNSIGNED NOT NULL DEFAULT 0, id_lang INT UNSIGNED NOT NULL DEFAULT 1,
  id_customer INT UNSIGNED NOT NULL DEFAULT 0, id_cart INT UNSIGNED NOT NULL DEFAULT 0,
  id_currency INT UNSIGNED NOT NULL DEFAULT 1, id_address_delivery INT UNSIGNED NOT NULL DEFAULT 0,
  id_address_invoice INT UNSIGNED NOT NULL DEFAULT 0, current_state INT UNSIGNED NOT NULL DEFAULT 0,
  secure_key VARCHAR(32) NOT NULL DEFAULT '-1', payment VARCHAR(255) NOT NULL DEFAULT '',
  conversion_rate DECIMAL(13,6) NOT NULL DEFAULT 1, module VARCHAR(255) DEFAULT NULL,
  recyclable TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, gift TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, gift_message TEXT,
  mobile_theme TINYINT(1) NOT NULL DEFAULT 0, shipping_number VARCHAR(64) DEFAULT NULL,
  total_discounts DECIMAL(20,6) NOT NULL DEFAULT 0, total_paid DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_paid_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0, total_paid_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_paid_real DECIMAL(20,6) NOT NULL DEFAULT 0, total_products DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_products_wt DECIMAL(20,6) NOT NULL DEFAULT 0, total_shipping DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_shipping_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0, total_shipping_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0,
  carrier_tax_rate DECIMAL(10,3) NOT NULL DEFAULT 0, total_wrapping DECIMAL(20,6) NOT NULL DEFAULT 0,
  round_mode TINYINT(1) NOT NULL DEFAULT 2, round_type TINYINT(1) NOT NULL DEFAULT 1,
  invoice_number INT UNSIGNED NOT NULL DEFAULT 0, delivery_number INT UNSIGNED NOT NULL DEFAULT 0,
  invoice_date DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00', delivery_date DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00',
  valid INT(1) UNSIGNED NOT NULL DEFAULT 0, date_add DATETIME NOT NULL, date_upd DATETIME NOT NULL, note TEXT,
  PRIMARY KEY (id_order), KEY reference (reference), KEY id_customer (id_customer), KEY id_carrier (id_carrier),
  KEY current_state (current_state), KEY id_shop (id_shop), KEY date_add (date_add)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_order_state (
  id_order_state INT UNSIGNED NOT NULL AUTO_INCREMENT, invoice TINYINT(1) UNSIGNED DEFAULT 0,
  send_email TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, module_name VARCHAR(255) DEFAULT NULL,
  color VARCHAR(32) DEFAULT NULL, unremovable TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  hidden TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, logable TINYINT(1) NOT NULL DEFAULT 0,
  delivery TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, shipped TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  paid TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, pdf_invoice TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  pdf_delivery TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, deleted TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (id_order_state), KEY module_name (module_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_order_state_lang (
  id_order_state INT UNSIGNED NOT NULL, id_lang INT UNSIGNED NOT NULL, name VARCHAR(64) NOT NULL,
  template VARCHAR(64) NOT NULL DEFAULT '', PRIMARY KEY (id_order_state, id_lang)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_order_history (
  id_order_history INT UNSIGNED NOT NULL AUTO_INCREMENT, id_employee INT UNSIGNED NOT NULL DEFAULT 0,
  id_order INT UNSIGNED NOT NULL, id_order_state INT UNSIGNED NOT NULL, date_add DATETIME NOT NULL,
  PRIMARY KEY (id_order_history), KEY order_history_order (id_order), KEY id_employee (id_employee), KEY id_order_state (id_order_state)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_carrier (
  id_carrier INT UNSIGNED NOT NULL AUTO_INCREMENT, id_reference INT UNSIGNED NOT NULL DEFAULT 0,
  name VARCHAR(64) NOT NULL, url VARCHAR(255) DEFAULT NULL, active TINYINT(1) UNSIGNED NOT NULL DEFAULT 1,
  deleted TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, shipping_handling TINYINT(1) UNSIGNED NOT NULL DEFAULT 1,
  range_behavior TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, is_module TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  is_free TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, shipping_external TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  need_range TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, external_module_name VARCHAR(64) DEFAULT NULL,
  shipping_method INT(2) NOT NULL DEFAULT 0, position INT UNSIGNED NOT NULL DEFAULT 0,
  max_width INT(10) DEFAULT 0, max_height INT(10) DEFAULT 0, max_depth INT(10) DEFAULT 0,
  max_weight DECIMAL(20,6) DEFAULT 0, grade INT(10) DEFAULT 0,
  PRIMARY KEY (id_carrier), KEY deleted (deleted, active), KEY reference (id_reference, deleted, active)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_order_carrier (
  id_order_carrier INT NOT NULL AUTO_INCREMENT, id_order INT UNSIGNED NOT NULL, id_carrier INT UNSIGNED NOT NULL,
  id_order_invoice INT UNSIGNED DEFAULT NULL, weight DECIMAL(20,6) DEFAULT NULL,
  shipping_cost_tax_excl DECIMAL(20,6) DEFAULT NULL, shipping_cost_tax_incl DECIMAL(20,6) DEFAULT NULL,
  tracking_number VARCHAR(64) DEFAULT NULL, date_add DATETIME NOT NULL,
  PRIMARY KEY (id_order_carrier), KEY id_order (id_order), KEY id_carrier (id_carrier), KEY id_order_invoice (id_order_invoice)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_order_invoice (
  id_order_invoice INT UNSIGNED NOT NULL AUTO_INCREMENT, id_order INT NOT NULL, number INT NOT NULL DEFAULT 0,
  delivery_number INT NOT NULL DEFAULT 0, delivery_date DATETIME DEFAULT NULL,
  total_discount_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0, total_discount_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_paid_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0, total_paid_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_products DECIMAL(20,6) NOT NULL DEFAULT 0, total_products_wt DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_shipping_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0, total_shipping_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
  shipping_tax_computation_method INT UNSIGNED NOT NULL DEFAULT 0,
  total_wrapping_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0, total_wrapping_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
  shop_address TEXT DEFAULT NULL, note TEXT, date_add DATETIME NOT NULL,
  PRIMARY KEY (id_order_invoice), KEY id_order (id_order)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_order_detail (
  id_order_detail INT UNSIGNED NOT NULL AUTO_INCREMENT, id_order INT UNSIGNED NOT NULL,
  id_order_invoice INT DEFAULT NULL, id_warehouse INT UNSIGNED DEFAULT 0, id_shop INT UNSIGNED NOT NULL DEFAULT 1,
  product_id INT UNSIGNED NOT NULL, product_attribute_id INT UNSIGNED DEFAULT NULL,
  id_customization INT UNSIGNED DEFAULT 0, product_name TEXT NOT NULL,
  product_quantity INT UNSIGNED NOT NULL DEFAULT 0, product_quantity_in_stock INT(10) NOT NULL DEFAULT 0,
  product_quantity_refunded INT UNSIGNED NOT NULL DEFAULT 0, product_quantity_return INT UNSIGNED NOT NULL DEFAULT 0,
  product_quantity_reinjected INT UNSIGNED NOT NULL DEFAULT 0, product_price DECIMAL(20,6) NOT NULL DEFAULT 0,
  product_ean13 VARCHAR(13) DEFAULT NULL, product_isbn VARCHAR(32) DEFAULT NULL, product_upc VARCHAR(12) DEFAULT NULL,
  product_mpn VARCHAR(40) DEFAULT NULL, product_reference VARCHAR(64) DEFAULT NULL,
  product_supplier_reference VARCHAR(64) DEFAULT NULL, product_weight DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_price_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0, total_price_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0,
  unit_price_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0, unit_price_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0,
  total_refunded_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0, total_refunded_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
  PRIMARY KEY (id_order_detail), KEY order_detail_order (id_order), KEY product_id (product_id, product_attribute_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_order_slip (
  id_order_slip INT UNSIGNED NOT NULL AUTO_INCREMENT, conversion_rate DECIMAL(13,6) NOT NULL DEFAULT 1,
  id_customer INT UNSIGNED NOT NULL DEFAULT 0, id_order INT UNSIGNED NOT NULL,
  total_products_tax_excl DECIMAL(20,6) DEFAULT NULL, total_products_tax_incl DECIMAL(20,6) DEFAULT NULL,
  total_shipping_tax_excl DECIMAL(20,6) DEFAULT NULL, total_shipping_tax_incl DECIMAL(20,6) DEFAULT NULL,
  shipping_cost TINYINT(3) UNSIGNED NOT NULL DEFAULT 0, amount DECIMAL(20,6) NOT NULL DEFAULT 0,
  shipping_cost_amount DECIMAL(20,6) NOT NULL DEFAULT 0, partial TINYINT(1) NOT NULL DEFAULT 0,
  order_slip_type TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, date_add DATETIME NOT NULL, date_upd DATETIME NOT NULL,
  PRIMARY KEY (id_order_slip), KEY order_slip_customer (id_customer), KEY id_order (id_order)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_order_slip_detail (
  id_order_slip INT UNSIGNED NOT NULL, id_order_detail INT UNSIGNED NOT NULL,
  product_quantity INT UNSIGNED NOT NULL DEFAULT 0, unit_price_tax_excl DECIMAL(20,6) DEFAULT NULL,
  unit_price_tax_incl DECIMAL(20,6) DEFAULT NULL, total_price_tax_excl DECIMAL(20,6) DEFAULT NULL,
  total_price_tax_incl DECIMAL(20,6) DEFAULT NULL, amount_tax_excl DECIMAL(20,6) DEFAULT NULL,
  amount_tax_incl DECIMAL(20,6) DEFAULT NULL, PRIMARY KEY (id_order_slip, id_order_detail)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_module (
  id_module INT UNSIGNED NOT NULL AUTO_INCREMENT, name VARCHAR(64) NOT NULL,
  active TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, version VARCHAR(8) NOT NULL,
  PRIMARY KEY (id_module), UNIQUE KEY name_UNIQUE (name), KEY name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_hook (
  id_hook INT UNSIGNED NOT NULL AUTO_INCREMENT, name VARCHAR(191) NOT NULL, title VARCHAR(255) NOT NULL,
  description TEXT, active TINYINT(1) UNSIGNED NOT NULL DEFAULT 1, position TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (id_hook), UNIQUE KEY hook_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_hook_module (
  id_module INT UNSIGNED NOT NULL, id_shop INT UNSIGNED NOT NULL DEFAULT 1, id_hook INT UNSIGNED NOT NULL,
  position TINYINT(2) UNSIGNED NOT NULL, PRIMARY KEY (id_module, id_hook, id_shop),
  KEY id_hook (id_hook), KEY id_module (id_module), KEY position (id_shop, position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_log (
  id_log INT UNSIGNED NOT NULL AUTO_INCREMENT, severity TINYINT(1) NOT NULL, error_code INT DEFAULT NULL,
  message TEXT NOT NULL, object_type VARCHAR(32) DEFAULT NULL, object_id INT UNSIGNED DEFAULT NULL,
  id_shop INT UNSIGNED DEFAULT NULL, id_shop_group INT UNSIGNED DEFAULT NULL, id_lang INT UNSIGNED DEFAULT NULL,
  in_all_shops TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, id_employee INT UNSIGNED DEFAULT NULL,
  date_add DATETIME NOT NULL, date_upd DATETIME NOT NULL, PRIMARY KEY (id_log)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- The Shopping Feed module's tables (classlib creates them from the
-- ObjectModel definitions of ShoppingfeedOrder, ShoppingfeedToken,
-- ShoppingfeedTaskOrder). The token column is `content`.
CREATE TABLE PREFIX_shoppingfeed_order (
  id_shoppingfeed_order INT UNSIGNED NOT NULL AUTO_INCREMENT, id_internal_shoppingfeed VARCHAR(50) DEFAULT NULL,
  id_order_marketplace VARCHAR(255) DEFAULT NULL, name_marketplace VARCHAR(50) NOT NULL,
  id_order INT UNSIGNED NOT NULL, payment_method VARCHAR(50) NOT NULL, date_marketplace_creation DATETIME DEFAULT NULL,
  id_shoppingfeed_token INT DEFAULT NULL, failed_ticket INT DEFAULT NULL, additionalFields TEXT,
  date_add DATETIME DEFAULT NULL, date_upd DATETIME DEFAULT NULL, PRIMARY KEY (id_shoppingfeed_order), KEY id_order (id_order)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_shoppingfeed_token (
  id_shoppingfeed_token INT UNSIGNED NOT NULL AUTO_INCREMENT, id_shop INT UNSIGNED NOT NULL,
  id_lang INT UNSIGNED NOT NULL, id_currency INT UNSIGNED NOT NULL, content VARCHAR(255) NOT NULL,
  active TINYINT(1) UNSIGNED NOT NULL DEFAULT 1, merchant VARCHAR(100) DEFAULT NULL,
  shoppingfeed_store_id INT UNSIGNED DEFAULT NULL, feed_key VARCHAR(50) NOT NULL,
  date_add DATETIME DEFAULT NULL, date_upd DATETIME DEFAULT NULL,
  PRIMARY KEY (id_shoppingfeed_token), UNIQUE KEY content (content), UNIQUE KEY feed_key (feed_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_shoppingfeed_task_order (
  id_shoppingfeed_task_order INT UNSIGNED NOT NULL AUTO_INCREMENT, action VARCHAR(255) NOT NULL,
  id_order INT UNSIGNED NOT NULL, ticket_number VARCHAR(50) DEFAULT NULL, batch_id VARCHAR(50) DEFAULT NULL,
  update_at DATETIME DEFAULT NULL, date_add DATETIME DEFAULT NULL, date_upd DATETIME DEFAULT NULL,
  PRIMARY KEY (id_shoppingfeed_task_order), UNIQUE KEY action_order (action, id_order), UNIQUE KEY ticket_number (ticket_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- classlib's process logger and process monitor (ProcessLoggerObjectModel,
-- ProcessMonitorObjectModel): the module's log and cron locks.
CREATE TABLE PREFIX_shoppingfeed_processlogger (
  id_shoppingfeed_processlogger INT UNSIGNED NOT NULL AUTO_INCREMENT, name VARCHAR(191) DEFAULT NULL,
  msg TEXT, level VARCHAR(20) DEFAULT NULL, object_name VARCHAR(191) DEFAULT NULL, object_id INT UNSIGNED DEFAULT NULL,
  id_session VARCHAR(191) DEFAULT NULL, date_add DATETIME DEFAULT NULL, PRIMARY KEY (id_shoppingfeed_processlogger)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE PREFIX_shoppingfeed_processmonitor (
  id_shoppingfeed_processmonitor INT UNSIGNED NOT NULL AUTO_INCREMENT, name VARCHAR(100) NOT NULL,
  pid INT UNSIGNED DEFAULT NULL, data TEXT, duration DECIMAL(10,6) NOT NULL DEFAULT 0,
  active TINYINT(1) UNSIGNED NOT NULL DEFAULT 1, last_update DATETIME DEFAULT NULL,
  date_add DATETIME DEFAULT NULL, date_upd DATETIME DEFAULT NULL,
  PRIMARY KEY (id_shoppingfeed_processmonitor), UNIQUE KEY name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- Test only (no such table in PrestaShop): what the stand-in of the
-- module's own ShoppingfeedOrderSyncActions would have sent to the API
-- (fixtures/shoppingfeed/classes/actions/ShoppingfeedOrderSyncActions.php),
-- and the module's importOrders() runs (step = 'importOrders').
CREATE TABLE PREFIX_sftest_module_call (
  id_sftest_module_call INT UNSIGNED NOT NULL AUTO_INCREMENT, step VARCHAR(64) NOT NULL,
  id_shop INT UNSIGNED DEFAULT NULL, id_shoppingfeed_token INT UNSIGNED DEFAULT NULL, action VARCHAR(64) DEFAULT NULL,
  id_order INT UNSIGNED DEFAULT NULL, payload TEXT, date_add DATETIME NOT NULL, PRIMARY KEY (id_sftest_module_call)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
