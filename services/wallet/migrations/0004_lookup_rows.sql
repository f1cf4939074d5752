-- Every gift request a wallet decided, and every gift a purchase lot funded, as rows of their
-- own. A wallet's snapshot row (`wallets`) keeps neither, so its size does not grow with every
-- gift. The handler loads from here only what a batch looks up one by one (the request ids of
-- its priced gifts, the funded gifts of the lots its refunds and chargebacks name), and writes
-- the rows a batch adds. A spent lot's gifts stay: a clawback may come long after.

CREATE TABLE wallet_requests (
    user_id     text NOT NULL,
    request_id  text NOT NULL,
    PRIMARY KEY (user_id, request_id)
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

-- Snapshots written before these tables existed hold every request and gift: copy them here,
-- so that leaving them out of the snapshot when it is next saved loses nothing.
INSERT INTO wallet_requests (user_id, request_id)
SELECT w.key, r.request_id
FROM wallets w, json_array_elements_text(w.state->'requests') AS r(request_id)
ON CONFLICT DO NOTHING;

INSERT INTO lot_funded_gifts (user_id, purchase_id, request_id, creator_id, coins,
                              position_in_lot)
SELECT w.key, lot->>'purchase_id', g.gift->>'request_id', g.gift->>'creator_id',
       (g.gift->>'coins')::bigint, g.n - 1
FROM wallets w, json_array_elements(w.state->'purchases') AS lot,
     json_array_elements(lot->'gifts') WITH ORDINALITY AS g(gift, n)
ON CONFLICT DO NOTHING;
