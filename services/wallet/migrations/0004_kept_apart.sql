-- What a wallet only ever looks up one by one, as rows of their own: the gift requests it
-- decided, its purchase and promo lots, and the gifts each purchase lot funded. A wallet's
-- snapshot row (`wallets`) keeps none of the requests and gifts, and only the lots that still
-- hold coins, so its size does not grow with the viewer's history. The handler loads from here
-- only what a batch looks up (the request ids of its priced gifts, the lots its credits and
-- clawbacks name, the funded gifts of the lots its refunds and chargebacks name), and writes
-- the rows a batch adds or changes. A spent lot and its gifts stay: a clawback may come long
-- after. Every lookup is by a key or a key's prefix.

CREATE TABLE wallet_requests (
    user_id     text NOT NULL,
    request_id  text NOT NULL,
    PRIMARY KEY (user_id, request_id)
);

CREATE TABLE purchase_lots (
    user_id       text        NOT NULL,
    purchase_id   text        NOT NULL,
    coins         bigint      NOT NULL,
    amount_minor  bigint      NOT NULL,
    currency      text        NOT NULL,
    rate_version  text        NOT NULL,
    acquired_at   timestamptz NOT NULL,
    used          bigint      NOT NULL,
    clawed_back   text,
    gifts_funded  bigint      NOT NULL,
    PRIMARY KEY (user_id, purchase_id)
);

CREATE TABLE promo_lots (
    user_id     text        NOT NULL,
    grant_id    text        NOT NULL,
    coins       bigint      NOT NULL,
    expires_at  timestamptz NOT NULL,
    granted_at  timestamptz NOT NULL,
    used        bigint      NOT NULL,
    expired     boolean     NOT NULL,
    PRIMARY KEY (user_id, grant_id)
);

-- The key's prefix (user_id, purchase_id) finds one lot's gifts.
CREATE TABLE lot_funded_gifts (
    user_id          text   NOT NULL,
    purchase_id      text   NOT NULL,
    request_id       text   NOT NULL,
    creator_id       text   NOT NULL,
    coins            bigint NOT NULL,
    position_in_lot  bigint NOT NULL,
    PRIMARY KEY (user_id, purchase_id, request_id)
);

-- Snapshots written before these tables existed hold every request, lot and gift: copy them
-- here, so that leaving them out of the snapshot when it is next saved loses nothing.
INSERT INTO wallet_requests (user_id, request_id)
SELECT w.key, r.request_id
FROM wallets w, json_array_elements_text(w.state->'requests') AS r(request_id)
ON CONFLICT DO NOTHING;

INSERT INTO purchase_lots (user_id, purchase_id, coins, amount_minor, currency, rate_version,
                           acquired_at, used, clawed_back, gifts_funded)
SELECT w.key, lot->>'purchase_id', (lot->>'coins')::bigint, (lot->>'amount_minor')::bigint,
       lot->>'currency', lot->>'rate_version', (lot->>'acquired_at')::timestamptz,
       (lot->>'used')::bigint, lot->>'clawed_back',
       coalesce((lot->>'funded_apart')::bigint, 0) + json_array_length(lot->'gifts')
FROM wallets w, json_array_elements(w.state->'purchases') AS lot
ON CONFLICT DO NOTHING;

INSERT INTO promo_lots (user_id, grant_id, coins, expires_at, granted_at, used, expired)
SELECT w.key, lot->>'grant_id', (lot->>'coins')::bigint, (lot->>'expires_at')::timestamptz,
       (lot->>'granted_at')::timestamptz, (lot->>'used')::bigint, (lot->>'expired')::boolean
FROM wallets w, json_array_elements(w.state->'promos') AS lot
ON CONFLICT DO NOTHING;

INSERT INTO lot_funded_gifts (user_id, purchase_id, request_id, creator_id, coins,
                              position_in_lot)
SELECT w.key, lot->>'purchase_id', g.gift->>'request_id', g.gift->>'creator_id',
       (g.gift->>'coins')::bigint, g.n - 1
FROM wallets w, json_array_elements(w.state->'purchases') AS lot,
     json_array_elements(lot->'gifts') WITH ORDINALITY AS g(gift, n)
ON CONFLICT DO NOTHING;
