-- 0005_notify_optional.sql - a writer may commit without NOTIFY.
--
-- NOTIFY takes one lock for the whole PostgreSQL server at commit, so notifying commits happen
-- one at a time. An offerd that runs with the Redis bus alone (--bus redis://..., no LISTEN)
-- says SET LOCAL offerd.notify = 'off' in its write transactions: nobody listens for them, and
-- its commits then skip that lock. Any other writer (the web app, psql) notifies as before,
-- unless it says the same. (Numbered 0005, the next number free in both stores: SQLite's 0002 to
-- 0004 are folded into PostgreSQL's 0001.)

CREATE OR REPLACE FUNCTION offer_changes_notify() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF coalesce(current_setting('offerd.notify', true), '') <> 'off' THEN
        PERFORM pg_notify('offerd_changes', '');
    END IF;
    RETURN NULL;
END
$$;
