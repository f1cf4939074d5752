-- Every earning (one per delivered gift) of every creator, as the creator's events left it.
-- A creator's snapshot row (`creators`) keeps none of them, only totals of the matured ones, so
-- its size does not grow with every gift. The handler loads from here the creator's earnings
-- still on hold and the matured ones a batch needs one by one (clawbacks, the once-per-gift
-- check), and writes back only the earnings a batch adds or changes.

CREATE TABLE earnings (
    creator_id        text        NOT NULL,
    request_id        text        NOT NULL,
    coins             bigint      NOT NULL,
    diamonds          bigint      NOT NULL,
    applied_to_debt   bigint      NOT NULL,
    available_at      timestamptz NOT NULL,
    clawed_coins      bigint      NOT NULL,
    clawed_diamonds   bigint      NOT NULL,
    clawed_from_held  bigint      NOT NULL,
    PRIMARY KEY (creator_id, request_id)
);

-- Snapshots written before this table existed list every earning: copy them here, so that
-- folding them out of the snapshot later loses nothing.
INSERT INTO earnings (creator_id, request_id, coins, diamonds, applied_to_debt, available_at,
                      clawed_coins, clawed_diamonds, clawed_from_held)
SELECT c.key, e->>'request_id', (e->>'coins')::bigint, (e->>'diamonds')::bigint,
       (e->>'applied_to_debt')::bigint, (e->>'available_at')::timestamptz,
       (e->>'clawed_coins')::bigint, (e->>'clawed_diamonds')::bigint,
       (e->>'clawed_from_held')::bigint
FROM creators c, jsonb_array_elements(c.state->'earnings') AS e
ON CONFLICT DO NOTHING;

-- The handler loads a creator's earnings still on hold with its snapshot row.
CREATE INDEX earnings_by_maturity ON earnings (creator_id, available_at);
