-- The wallet service's schema. Wallet snapshots are the working state; wallet_balances is
-- the read model people query; both move in the transaction that decided.

CREATE TABLE wallets (
    key         text PRIMARY KEY,
    state       jsonb  NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wallet_balances (
    user_id          text PRIMARY KEY,
    balance          bigint  NOT NULL,
    purchased_coins  bigint  NOT NULL,
    promo_coins      bigint  NOT NULL,
    debt             bigint  NOT NULL,
    frozen           boolean NOT NULL,
    frozen_reason    text,
    updated_at       timestamptz NOT NULL
);

-- The spending caps in force, as last set by policy (one row).
CREATE TABLE spending_policy (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    rate_version   text   NOT NULL,
    daily_coins    bigint,
    monthly_coins  bigint
);
