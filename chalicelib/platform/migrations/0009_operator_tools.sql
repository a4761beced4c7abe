-- Operator tools (issue 13, docs/operator-tools.md): the IMPORT and FORFEIT ledger types, member erasure,
-- bulk imports through S3, and the event archive (outbox rows kept append-only, exported daily).

-- 1. Two ledger types: IMPORT (an opening balance moved in from the old program, > 0) and FORFEIT (what
-- an erased member still held, < 0). Other migrations widen the type list too (returns, vesting), so
-- every CHECK on ledger_entries that names entry_type is widened, never rewritten from a fixed list:
-- it becomes (its own condition) OR (the new types' rule), whatever types it already allowed.
DO $$
DECLARE
    c record;
    condition text;
BEGIN
    FOR c IN
        SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = 'ledger_entries'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%entry_type%'
    LOOP
        condition := substring(c.def FROM '^CHECK \((.*)\)$');
        EXECUTE format('ALTER TABLE ledger_entries DROP CONSTRAINT %I', c.conname);
        IF c.def LIKE '%points%' THEN
            EXECUTE format('ALTER TABLE ledger_entries ADD CONSTRAINT %I CHECK ((%s) '
                           'OR (entry_type = ''IMPORT'' AND points > 0) OR (entry_type = ''FORFEIT'' AND points < 0))',
                           c.conname, condition);
        ELSE
            EXECUTE format('ALTER TABLE ledger_entries ADD CONSTRAINT %I CHECK ((%s) OR entry_type IN (''IMPORT'', ''FORFEIT''))',
                           c.conname, condition);
        END IF;
    END LOOP;
END
$$;

-- 2. Erasure. The member row stays (ledger, orders and purchases reference it: accounting keeps
-- amounts under the member's random id) with every personal field cleared and erased_at set; an
-- erased member is in no list, search or export, and cannot be credited.
ALTER TABLE members ADD COLUMN erased_at timestamptz;

CREATE TABLE member_erasures (
    member_id             uuid PRIMARY KEY REFERENCES members (id),
    erased_at             timestamptz NOT NULL DEFAULT now(),
    erased_by             text NOT NULL,
    points_forfeited      bigint NOT NULL CHECK (points_forfeited >= 0),
    forfeit_entry_id      uuid REFERENCES ledger_entries (id),
    orders_cancelled      integer NOT NULL CHECK (orders_cancelled >= 0),
    reservations_released integer NOT NULL CHECK (reservations_released >= 0),
    -- whether the identity provider had a user for this member (deleted before the erasure committed)
    identity_deleted      boolean NOT NULL
);

-- Sign-ins that belonged to erased members, as sha256(issuer || ' ' || subject): an ID token issued
-- before the erasure (valid until it expires) must not enrol a new member.
CREATE TABLE erased_identities (
    identity_hash text PRIMARY KEY,
    erased_at     timestamptz NOT NULL DEFAULT now()
);

-- 3. Bulk imports (CSV under imports/ in the stage's bucket). One row per upload event: where the
-- import has got to (byte offset and line of the next row) moves in the same transaction as each
-- batch's members, so a crash or a stop before Lambda's time limit resumes exactly there.
CREATE TABLE import_jobs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bucket       text NOT NULL,
    object_key   text NOT NULL,
    etag         text NOT NULL,
    -- S3's event sequencer: a re-upload is a new job, a redelivered event the same one
    sequencer    text NOT NULL DEFAULT '',
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    dry_run      boolean NOT NULL,
    status       text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'PAUSED', 'DONE', 'FAILED')),
    header       text[],
    next_offset  bigint NOT NULL DEFAULT 0,
    next_line    bigint NOT NULL DEFAULT 1,
    rows_read    bigint NOT NULL DEFAULT 0,
    imported     bigint NOT NULL DEFAULT 0,
    skipped      bigint NOT NULL DEFAULT 0,
    rejected     bigint NOT NULL DEFAULT 0,
    points       bigint NOT NULL DEFAULT 0,
    batches      integer NOT NULL DEFAULT 0,
    invocations  integer NOT NULL DEFAULT 0,
    owner        text,
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CONSTRAINT import_jobs_event UNIQUE (bucket, object_key, etag, sequencer)
);
CREATE INDEX import_jobs_open ON import_jobs (heartbeat_at) WHERE status IN ('RUNNING', 'PAUSED');

-- Bad rows, by line number (never the row's personal data, only what was wrong).
CREATE TABLE import_rejections (
    import_id          uuid NOT NULL REFERENCES import_jobs (id),
    line               bigint NOT NULL,
    external_member_id text,
    reason             text NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- The old program's member id -> our member: what makes a re-import change nothing. An erased
-- member's external id is kept only as 'sha256:<hex>' so a re-import still skips it.
CREATE TABLE imported_members (
    external_member_id text PRIMARY KEY,
    member_id          uuid NOT NULL UNIQUE REFERENCES members (id),
    import_id          uuid NOT NULL REFERENCES import_jobs (id),
    line               bigint NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- 4. The event archive: outbox rows are kept (the hourly purge of published rows is gone) and are
-- queryable by member, order, type and time. member_id/order_id come from the payload (or the
-- aggregate, for member and order events whose payload does not repeat it).
ALTER TABLE outbox_events
    ADD COLUMN member_id uuid GENERATED ALWAYS AS (
        CASE
            WHEN payload ->> 'member_id' ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                THEN CAST(payload ->> 'member_id' AS uuid)
            WHEN event_type LIKE 'Points%' OR event_type LIKE 'Member%' THEN aggregate_id
        END) STORED,
    ADD COLUMN order_id uuid GENERATED ALWAYS AS (
        CASE
            WHEN payload ->> 'order_id' ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                THEN CAST(payload ->> 'order_id' AS uuid)
            WHEN event_type LIKE 'Order%' THEN aggregate_id
        END) STORED;
DROP INDEX IF EXISTS outbox_published;  -- served the purge of published rows, which no longer exists
CREATE INDEX outbox_events_created ON outbox_events (created_at DESC, id DESC);
CREATE INDEX outbox_events_type ON outbox_events (event_type, created_at DESC, id DESC);
CREATE INDEX outbox_events_member ON outbox_events (member_id, created_at DESC, id DESC) WHERE member_id IS NOT NULL;
CREATE INDEX outbox_events_order ON outbox_events (order_id, created_at DESC, id DESC) WHERE order_id IS NOT NULL;

-- One row per UTC day exported to events/dt=YYYY-MM-DD/ in the bucket. A day's events may leave the
-- database only once this row exists (the trigger below); purged_at is set when the retention job has
-- removed them, and a day with fewer events than it recorded is never exported again.
CREATE TABLE event_exports (
    day         date PRIMARY KEY,
    events      bigint NOT NULL CHECK (events >= 0),
    objects     integer NOT NULL CHECK (objects >= 0),
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    bucket      text NOT NULL,
    prefix      text NOT NULL,
    exported_at timestamptz NOT NULL DEFAULT now(),
    purged_at   timestamptz
);

-- Append-only: an event's content never changes (the relay may only record its publishing), and an
-- event leaves only after its day was exported.
CREATE FUNCTION outbox_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.id IS DISTINCT FROM OLD.id OR NEW.event_type IS DISTINCT FROM OLD.event_type
           OR NEW.aggregate_id IS DISTINCT FROM OLD.aggregate_id OR NEW.payload IS DISTINCT FROM OLD.payload
           OR NEW.request_id IS DISTINCT FROM OLD.request_id OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
            RAISE EXCEPTION 'events are append-only; only their publishing may be recorded'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM event_exports WHERE day = CAST(OLD.created_at AT TIME ZONE 'UTC' AS date)) THEN
        RAISE EXCEPTION 'event % was not exported to the archive yet', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER outbox_events_append_only BEFORE UPDATE OR DELETE ON outbox_events
    FOR EACH ROW EXECUTE FUNCTION outbox_events_append_only();
