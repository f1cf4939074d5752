-- History rows keep each event's JSON exactly as it was published (json keeps the text;
-- jsonb would re-encode it), and are written without being parsed into jsonb: every decision
-- and every rebuild writes one per event, while only reports read them.
ALTER TABLE event_history ALTER COLUMN payload TYPE json USING payload::json;
