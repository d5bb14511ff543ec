-- 0001_init.sql - the marketplace tables offerd serves, and the change log that lets any writer be seen.
--
-- The tables and their SPEC columns are a public interface: the main web app may write them
-- directly. Every column offerd adds has a default, so a writer that knows only the SPEC columns
-- can still insert. Ids are TEXT, money INTEGER minor units, times INTEGER ms since the epoch (UTC).

CREATE TABLE users (
    id          TEXT PRIMARY KEY NOT NULL,
    clerk_id    TEXT UNIQUE NOT NULL,
    email       TEXT,
    first_name  TEXT,
    last_name   TEXT,
    image_url   TEXT
);

CREATE TABLE products (
    id       TEXT PRIMARY KEY NOT NULL,
    user_id  TEXT NOT NULL REFERENCES users(id),
    title    TEXT NOT NULL,
    price    INTEGER NOT NULL CHECK (price > 0),
    is_sold  INTEGER NOT NULL DEFAULT 0 CHECK (is_sold IN (0, 1))
);
CREATE INDEX products_user ON products(user_id);

CREATE TABLE product_images (
    id          TEXT PRIMARY KEY NOT NULL,
    product_id  TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    sort_order  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX product_images_product ON product_images(product_id, sort_order, id);

CREATE TABLE offers (
    id          TEXT PRIMARY KEY NOT NULL,
    amount      INTEGER NOT NULL CHECK (amount > 0),
    status      TEXT NOT NULL DEFAULT 'PENDING'
                CHECK (status IN ('PENDING', 'COUNTERED', 'ACCEPTED', 'REJECTED', 'EXPIRED')),
    message     TEXT,
    product_id  TEXT NOT NULL REFERENCES products(id),
    buyer_id    TEXT NOT NULL REFERENCES users(id),
    seller_id   TEXT NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at  INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    expires_at  INTEGER,
    version     INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
);
-- The list endpoint: a user's offers as buyer or seller, newest first, keyset-paginated.
CREATE INDEX offers_buyer_recent ON offers(buyer_id, created_at DESC, id DESC);
CREATE INDEX offers_seller_recent ON offers(seller_id, created_at DESC, id DESC);
CREATE INDEX offers_product ON offers(product_id);
-- The expiry scheduler: the next live offer to expire.
CREATE INDEX offers_live_expiry ON offers(expires_at) WHERE status IN ('PENDING', 'COUNTERED');

CREATE TABLE counter_offers (
    id            TEXT PRIMARY KEY NOT NULL,
    offer_id      TEXT NOT NULL REFERENCES offers(id) ON DELETE CASCADE,
    amount        INTEGER NOT NULL CHECK (amount > 0),
    message       TEXT,
    from_seller   INTEGER NOT NULL CHECK (from_seller IN (0, 1)),
    created_at    INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    -- The offer version this counter produced. offerd sets it after bumping the offer itself in the
    -- same transaction, so one write bumps the version once; a writer that leaves it NULL gets the
    -- bump from the trigger below.
    offer_version INTEGER
);
CREATE INDEX counter_offers_offer ON counter_offers(offer_id, created_at, id);

-- Append-only log of (offer, version): one row per change, whoever made it. Readers (long-poll,
-- SSE, other offerd processes) follow it by seq.
CREATE TABLE offer_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    offer_id    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    changed_at  INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);
CREATE INDEX offer_changes_offer ON offer_changes(offer_id, seq);

CREATE TRIGGER offer_changes_no_update BEFORE UPDATE ON offer_changes
BEGIN
    SELECT RAISE(ABORT, 'offer_changes is append-only');
END;
CREATE TRIGGER offer_changes_no_delete BEFORE DELETE ON offer_changes
BEGIN
    SELECT RAISE(ABORT, 'offer_changes is append-only');
END;

CREATE TRIGGER offers_log_insert AFTER INSERT ON offers
BEGIN
    INSERT INTO offer_changes(offer_id, version) VALUES (NEW.id, NEW.version);
END;

-- A writer that moved the version itself is logged as it is.
CREATE TRIGGER offers_log_update AFTER UPDATE ON offers
WHEN NEW.version > OLD.version
BEGIN
    INSERT INTO offer_changes(offer_id, version) VALUES (NEW.id, NEW.version);
END;

-- A writer that did not (the main web app, a hand-written UPDATE) gets the bump here; the nested
-- UPDATE raises the version, so offers_log_update logs it.
CREATE TRIGGER offers_bump_version AFTER UPDATE ON offers
WHEN NEW.version <= OLD.version
BEGIN
    UPDATE offers SET version = OLD.version + 1,
                      updated_at = MAX(NEW.updated_at,
                                       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
    WHERE id = NEW.id;
END;

-- A counter offer is a change to its offer. offerd bumps the offer in the same transaction and
-- says so with offer_version; anyone else's counter bumps it here.
CREATE TRIGGER counter_offers_bump_offer AFTER INSERT ON counter_offers
WHEN NEW.offer_version IS NULL
  OR NEW.offer_version <> (SELECT version FROM offers WHERE id = NEW.offer_id)
BEGIN
    UPDATE offers SET version = version + 1,
                      updated_at = MAX(updated_at, NEW.created_at)
    WHERE id = NEW.offer_id;
    UPDATE counter_offers SET offer_version = (SELECT version FROM offers WHERE id = NEW.offer_id)
    WHERE id = NEW.id;
END;

CREATE TRIGGER counter_offers_update_bump_offer AFTER UPDATE ON counter_offers
WHEN NEW.offer_version IS OLD.offer_version
BEGIN
    UPDATE offers SET version = version + 1 WHERE id = NEW.offer_id;
END;

CREATE TRIGGER counter_offers_delete_bump_offer AFTER DELETE ON counter_offers
BEGIN
    UPDATE offers SET version = version + 1 WHERE id = OLD.offer_id;
END;
