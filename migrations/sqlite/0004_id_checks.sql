-- 0004_id_checks.sql - every id a writer stores must match [A-Za-z0-9_-]{1,64}, as offerd reads it.
--
-- offerd keeps ids in fixed 64-byte fields and compares them whole; a longer id used to be cut to
-- 64 bytes on reading, so two users whose ids share their first 64 characters were one user. offerd
-- now refuses such rows when it reads them (an offer is skipped in lists, a user gets 403); these
-- triggers stop them being written at all, by offerd or by the web app. An id is valid when it is
-- 1 to 64 bytes of A-Z a-z 0-9 _ -: the byte length (a cast to BLOB counts past a NUL, which
-- length() and GLOB stop at) equals the character length (no multi-byte characters) and no byte is
-- outside the set.
--
-- CHECK constraints cannot be added to existing tables in SQLite (ALTER TABLE has no ADD
-- CONSTRAINT), so these are BEFORE triggers that RAISE(ABORT): the statement fails, and the
-- transaction stays open for the writer to roll back. Rows written before this migration are not
-- checked here (a migration must not fail on a database it cannot clean); an UPDATE checks only the
-- id columns it changes, so such a row can still be updated or repaired. users.clerk_id is not an
-- offerd id: it is compared whole with the token's sub (any text up to 255 bytes) and not checked.

CREATE TRIGGER users_id_check_insert BEFORE INSERT ON users
WHEN NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
          AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*')
BEGIN
    SELECT RAISE(ABORT, 'users.id must match [A-Za-z0-9_-]{1,64}');
END;
CREATE TRIGGER users_id_check_update BEFORE UPDATE OF id ON users
WHEN NEW.id IS NOT OLD.id
 AND NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
          AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*')
BEGIN
    SELECT RAISE(ABORT, 'users.id must match [A-Za-z0-9_-]{1,64}');
END;

CREATE TRIGGER products_id_check_insert BEFORE INSERT ON products
WHEN NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
          AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*')
  OR NOT (length(CAST(NEW.user_id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.user_id) = length(CAST(NEW.user_id AS BLOB))
          AND NEW.user_id NOT GLOB '*[^A-Za-z0-9_-]*')
BEGIN
    SELECT RAISE(ABORT, 'products.id and products.user_id must match [A-Za-z0-9_-]{1,64}');
END;
CREATE TRIGGER products_id_check_update BEFORE UPDATE OF id, user_id ON products
WHEN (NEW.id IS NOT OLD.id
      AND NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
               AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*'))
  OR (NEW.user_id IS NOT OLD.user_id
      AND NOT (length(CAST(NEW.user_id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.user_id) = length(CAST(NEW.user_id AS BLOB))
               AND NEW.user_id NOT GLOB '*[^A-Za-z0-9_-]*'))
BEGIN
    SELECT RAISE(ABORT, 'products.id and products.user_id must match [A-Za-z0-9_-]{1,64}');
END;

CREATE TRIGGER product_images_id_check_insert BEFORE INSERT ON product_images
WHEN NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
          AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*')
  OR NOT (length(CAST(NEW.product_id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.product_id) = length(CAST(NEW.product_id AS BLOB))
          AND NEW.product_id NOT GLOB '*[^A-Za-z0-9_-]*')
BEGIN
    SELECT RAISE(ABORT, 'product_images.id and product_id must match [A-Za-z0-9_-]{1,64}');
END;
CREATE TRIGGER product_images_id_check_update BEFORE UPDATE OF id, product_id ON product_images
WHEN (NEW.id IS NOT OLD.id
      AND NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
               AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*'))
  OR (NEW.product_id IS NOT OLD.product_id
      AND NOT (length(CAST(NEW.product_id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.product_id) = length(CAST(NEW.product_id AS BLOB))
               AND NEW.product_id NOT GLOB '*[^A-Za-z0-9_-]*'))
BEGIN
    SELECT RAISE(ABORT, 'product_images.id and product_id must match [A-Za-z0-9_-]{1,64}');
END;

CREATE TRIGGER offers_id_check_insert BEFORE INSERT ON offers
WHEN NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
          AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*')
  OR NOT (length(CAST(NEW.product_id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.product_id) = length(CAST(NEW.product_id AS BLOB))
          AND NEW.product_id NOT GLOB '*[^A-Za-z0-9_-]*')
  OR NOT (length(CAST(NEW.buyer_id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.buyer_id) = length(CAST(NEW.buyer_id AS BLOB))
          AND NEW.buyer_id NOT GLOB '*[^A-Za-z0-9_-]*')
  OR NOT (length(CAST(NEW.seller_id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.seller_id) = length(CAST(NEW.seller_id AS BLOB))
          AND NEW.seller_id NOT GLOB '*[^A-Za-z0-9_-]*')
BEGIN
    SELECT RAISE(ABORT,
                 'offers.id, product_id, buyer_id and seller_id must match [A-Za-z0-9_-]{1,64}');
END;
CREATE TRIGGER offers_id_check_update BEFORE UPDATE OF id, product_id, buyer_id, seller_id ON offers
WHEN (NEW.id IS NOT OLD.id
      AND NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
               AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*'))
  OR (NEW.product_id IS NOT OLD.product_id
      AND NOT (length(CAST(NEW.product_id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.product_id) = length(CAST(NEW.product_id AS BLOB))
               AND NEW.product_id NOT GLOB '*[^A-Za-z0-9_-]*'))
  OR (NEW.buyer_id IS NOT OLD.buyer_id
      AND NOT (length(CAST(NEW.buyer_id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.buyer_id) = length(CAST(NEW.buyer_id AS BLOB))
               AND NEW.buyer_id NOT GLOB '*[^A-Za-z0-9_-]*'))
  OR (NEW.seller_id IS NOT OLD.seller_id
      AND NOT (length(CAST(NEW.seller_id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.seller_id) = length(CAST(NEW.seller_id AS BLOB))
               AND NEW.seller_id NOT GLOB '*[^A-Za-z0-9_-]*'))
BEGIN
    SELECT RAISE(ABORT,
                 'offers.id, product_id, buyer_id and seller_id must match [A-Za-z0-9_-]{1,64}');
END;

CREATE TRIGGER counter_offers_id_check_insert BEFORE INSERT ON counter_offers
WHEN NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
          AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*')
  OR NOT (length(CAST(NEW.offer_id AS BLOB)) BETWEEN 1 AND 64
          AND length(NEW.offer_id) = length(CAST(NEW.offer_id AS BLOB))
          AND NEW.offer_id NOT GLOB '*[^A-Za-z0-9_-]*')
BEGIN
    SELECT RAISE(ABORT, 'counter_offers.id and offer_id must match [A-Za-z0-9_-]{1,64}');
END;
CREATE TRIGGER counter_offers_id_check_update BEFORE UPDATE OF id, offer_id ON counter_offers
WHEN (NEW.id IS NOT OLD.id
      AND NOT (length(CAST(NEW.id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.id) = length(CAST(NEW.id AS BLOB))
               AND NEW.id NOT GLOB '*[^A-Za-z0-9_-]*'))
  OR (NEW.offer_id IS NOT OLD.offer_id
      AND NOT (length(CAST(NEW.offer_id AS BLOB)) BETWEEN 1 AND 64
               AND length(NEW.offer_id) = length(CAST(NEW.offer_id AS BLOB))
               AND NEW.offer_id NOT GLOB '*[^A-Za-z0-9_-]*'))
BEGIN
    SELECT RAISE(ABORT, 'counter_offers.id and offer_id must match [A-Za-z0-9_-]{1,64}');
END;
