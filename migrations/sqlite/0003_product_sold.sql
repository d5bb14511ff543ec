-- 0003_product_sold.sql - a product that sells ends its other live offers, and shows as sold.
--
-- The offer JSON now shows its product's isSold, so (as 0002 does for title, price and images) a
-- change of products.is_sold bumps the version of every offer of that product; 0002's "is_sold
-- bumps nothing" no longer holds. A sale (is_sold 0 -> 1, by offerd or by any other writer: the
-- web app, a hand-written UPDATE) also ends every live offer of the product in the same
-- statement: REJECTED, or EXPIRED if its expiresAt has already passed (reads never showed it as
-- live). A relisting (1 -> 0) bumps the offers so they show isSold false, and revives none.
--
-- sold_offer_id names the accepted offer that sold the product. offerd sets it together with
-- is_sold, in the transaction that accepted that offer and already bumped it: the trigger leaves
-- that one offer alone, so one accept bumps it once. Any other writer may ignore the column; a
-- sale that does not set it bumps every offer of the product (an ACCEPTED one stays ACCEPTED).
-- A relisting clears it.

ALTER TABLE products ADD COLUMN sold_offer_id TEXT;

CREATE TRIGGER products_sold_end_offers AFTER UPDATE OF is_sold ON products
WHEN OLD.is_sold = 0 AND NEW.is_sold = 1
BEGIN
    UPDATE offers
    SET status = CASE
                     WHEN status NOT IN ('PENDING', 'COUNTERED') THEN status
                     WHEN expires_at IS NOT NULL
                          AND expires_at <= CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                         THEN 'EXPIRED'
                     ELSE 'REJECTED'
                 END,
        updated_at = CASE
                         WHEN status IN ('PENDING', 'COUNTERED')
                             THEN MAX(updated_at, CAST((julianday('now') - 2440587.5) * 86400000
                                                       AS INTEGER))
                         ELSE updated_at
                     END,
        version = version + 1
    WHERE product_id = NEW.id
      AND (NEW.sold_offer_id IS OLD.sold_offer_id OR id IS NOT NEW.sold_offer_id);
END;

CREATE TRIGGER products_relisted_bump_offers AFTER UPDATE OF is_sold ON products
WHEN OLD.is_sold = 1 AND NEW.is_sold = 0
BEGIN
    UPDATE offers SET version = version + 1 WHERE product_id = NEW.id;
    UPDATE products SET sold_offer_id = NULL WHERE id = NEW.id AND sold_offer_id IS NOT NULL;
END;

-- Offers left live on products sold before this migration end now, as a sale ends them.
UPDATE offers
SET status = CASE
                 WHEN expires_at IS NOT NULL
                      AND expires_at <= CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                     THEN 'EXPIRED'
                 ELSE 'REJECTED'
             END,
    updated_at = MAX(updated_at, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    version = version + 1
WHERE status IN ('PENDING', 'COUNTERED')
  AND product_id IN (SELECT id FROM products WHERE is_sold = 1);
