-- 0002_render_versions.sql - an offer's version moves whenever its JSON would.
--
-- The offer JSON shows its product's title, price and images and its parties' names. With these
-- triggers a change to any of them bumps the versions of the offers that show it (and so reaches
-- the change log, watchers and caches), so (offer id, version) names exactly one rendering: polls
-- can be answered from a cache, and a 304 needs no database read. is_sold, emails and images of
-- users are not rendered, so they bump nothing.

CREATE TRIGGER products_bump_offers AFTER UPDATE OF title, price ON products
WHEN OLD.title IS NOT NEW.title OR OLD.price IS NOT NEW.price
BEGIN
    UPDATE offers SET version = version + 1 WHERE product_id = NEW.id;
END;

CREATE TRIGGER product_images_insert_bump_offers AFTER INSERT ON product_images
BEGIN
    UPDATE offers SET version = version + 1 WHERE product_id = NEW.product_id;
END;

CREATE TRIGGER product_images_update_bump_offers AFTER UPDATE OF url, sort_order, product_id
ON product_images
BEGIN
    UPDATE offers SET version = version + 1
    WHERE product_id IN (OLD.product_id, NEW.product_id);
END;

CREATE TRIGGER product_images_delete_bump_offers AFTER DELETE ON product_images
BEGIN
    UPDATE offers SET version = version + 1 WHERE product_id = OLD.product_id;
END;

CREATE TRIGGER users_bump_offers AFTER UPDATE OF first_name, last_name ON users
WHEN OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name
BEGIN
    UPDATE offers SET version = version + 1 WHERE buyer_id = NEW.id OR seller_id = NEW.id;
END;

-- Counter offers are read oldest first, ties in insertion order: (offer_id, created_at) with the
-- implicit rowid serves ORDER BY created_at, rowid without a sort.
DROP INDEX counter_offers_offer;
CREATE INDEX counter_offers_offer ON counter_offers(offer_id, created_at);
