-- Partner API keys (stored only as SHA-256 of a high-entropy secret) and idempotency records.

CREATE TABLE partners (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('STORE', 'WAREHOUSE', 'DELIVERY')),
    key_prefix  text NOT NULL UNIQUE,
    key_hash    text NOT NULL,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- One row per (caller scope, Idempotency-Key). A row whose completed_at is NULL is either in
-- flight (its row lock is held by the transaction doing the work) or abandoned by a rolled-back
-- attempt (no lock held), in which case the next attempt simply does the work.
CREATE TABLE idempotency_keys (
    scope         text NOT NULL,
    idem_key      text NOT NULL,
    request_hash  text NOT NULL,
    status_code   integer,
    response_body text,          -- the exact JSON served, so replays are byte-identical
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
