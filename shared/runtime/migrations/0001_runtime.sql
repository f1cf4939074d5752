-- Runtime tables of one service schema: where each consumer is in each partition, which
-- events it has applied, and what it still has to publish.

CREATE TABLE tracking (
    consumer     text    NOT NULL,
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint  NOT NULL CHECK (next_offset >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- Producer duplicates arrive at new offsets; their event id is the only thing that tells.
CREATE TABLE inbox (
    consumer        text    NOT NULL,
    event_id        uuid    NOT NULL,
    content_sha256  bytea   NOT NULL,
    topic           text    NOT NULL,
    partition       integer NOT NULL,
    "offset"        bigint  NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Rows are deleted once Kafka acknowledged them: Kafka, not this table, is the record.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid  NOT NULL,
    topic       text  NOT NULL,
    key         bytea,
    value       bytea NOT NULL,
    headers     jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now()
);
