-- The payout service's schema: creator snapshots (working state), what people query about
-- creators and payouts, and the policy events followed so far.

CREATE TABLE creators (
    key         text PRIMARY KEY,
    state       jsonb  NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Balances as of the creator's own latest event time (log time, not wall time).
CREATE TABLE creator_balances (
    creator_id   text PRIMARY KEY,
    verified     boolean NOT NULL,
    earned       bigint  NOT NULL,
    held         bigint  NOT NULL,
    available    bigint  NOT NULL,
    reserved     bigint  NOT NULL,
    withdrawn    bigint  NOT NULL,
    clawed_back  bigint  NOT NULL,
    debt         bigint  NOT NULL,
    as_of        timestamptz NOT NULL
);

CREATE TABLE payouts (
    payout_id     text PRIMARY KEY,
    creator_id    text   NOT NULL,
    status        text   NOT NULL CHECK (status IN ('reserved', 'paid', 'failed', 'rejected')),
    diamonds      bigint NOT NULL,
    gross_minor   bigint,
    fee_minor     bigint,
    net_minor     bigint,
    currency      text,
    rate_version  text,
    reason        text,
    requested_at  timestamptz NOT NULL,
    settled_at    timestamptz
);
CREATE INDEX payouts_by_creator ON payouts (creator_id, requested_at);

CREATE TABLE policy_events (
    seq      bigserial PRIMARY KEY,
    event_id uuid  NOT NULL UNIQUE,
    payload  jsonb NOT NULL
);
