-- The gifting service's schema: what it needs to price a request and what people look at.

CREATE TABLE catalog_gifts (
    gift_id          text PRIMARY KEY,
    name             text    NOT NULL,
    coins            bigint  NOT NULL CHECK (coins > 0),
    catalog_version  integer NOT NULL,
    retired          boolean NOT NULL DEFAULT false
);

CREATE TABLE campaigns (
    campaign_id  text PRIMARY KEY,
    multiplier   numeric NOT NULL,
    gift_ids     text[]  NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    ended_at     timestamptz
);

CREATE TABLE streams (
    stream_id   text PRIMARY KEY,
    creator_id  text NOT NULL,
    started_at  timestamptz,
    ended_at    timestamptz
);

-- Every request and where it stands: priced (waiting for the wallet), sent, failed, rejected.
CREATE TABLE gifts (
    request_id    text PRIMARY KEY,
    sender_id     text   NOT NULL,
    stream_id     text   NOT NULL,
    creator_id    text,
    gift_id       text   NOT NULL,
    quantity      integer NOT NULL,
    coins         bigint,
    points        bigint,
    catalog_version integer,
    campaign_id   text,
    status        text   NOT NULL CHECK (status IN ('priced', 'sent', 'failed', 'rejected')),
    reason        text,
    priced_event  jsonb,
    requested_at  timestamptz NOT NULL,
    decided_at    timestamptz NOT NULL
);
CREATE INDEX gifts_by_stream ON gifts (stream_id, requested_at);

CREATE TABLE stream_totals (
    stream_id  text PRIMARY KEY,
    creator_id text   NOT NULL,
    sends      bigint NOT NULL DEFAULT 0,
    gifts      bigint NOT NULL DEFAULT 0,
    coins      bigint NOT NULL DEFAULT 0,
    points     bigint NOT NULL DEFAULT 0
);

-- Top gifters per stream and per creator; ranked by points, then coins, then sender id.
CREATE TABLE gifter_scores (
    scope     text   NOT NULL CHECK (scope IN ('stream', 'creator')),
    scope_id  text   NOT NULL,
    sender_id text   NOT NULL,
    points    bigint NOT NULL DEFAULT 0,
    coins     bigint NOT NULL DEFAULT 0,
    gifts     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, scope_id, sender_id)
);
CREATE INDEX gifter_scores_rank ON gifter_scores (scope, scope_id, points DESC, coins DESC,
                                                  sender_id);
