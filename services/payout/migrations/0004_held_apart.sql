-- A creator's row now keeps totals of the earnings set apart while still held, as it did of
-- the matured ones, so a batch no longer loads every held earning with the row. Rows written
-- before kept neither the held earnings nor their totals: give them the totals from the table.
UPDATE creators c
SET state = (c.state::jsonb || jsonb_build_object(
        'held_apart_credited', h.credited,
        'held_apart_earned', h.earned,
        'held_apart_clawed', h.clawed))::json
FROM (
    SELECT k.key,
           COALESCE(sum(e.diamonds - e.applied_to_debt - e.clawed_from_held), 0) AS credited,
           COALESCE(sum(e.diamonds), 0) AS earned,
           COALESCE(sum(e.clawed_diamonds), 0) AS clawed
    FROM creators k
    JOIN earnings e ON e.creator_id = k.key
     AND e.available_at > (k.state->>'clock')::timestamptz
    WHERE jsonb_array_length(COALESCE(k.state::jsonb->'earnings', '[]'::jsonb)) = 0
      AND NOT (k.state::jsonb ? 'held_apart_credited')
    GROUP BY k.key
) h
WHERE c.key = h.key;
