-- History rows keep each event's JSON exactly as it was published (json keeps the text;
-- jsonb would re-encode it), and are written without being parsed into jsonb: every decision
-- and every rebuild writes one per event, while only reports read them.
ALTER TABLE event_history ALTER COLUMN payload TYPE json USING payload::json;

-- Rows are read per entity in seq order: that index is the key, and one index fewer is kept
-- up to date on every decision (seq stays unique: it comes from one sequence).
ALTER TABLE event_history DROP CONSTRAINT event_history_pkey;
ALTER TABLE event_history ADD CONSTRAINT event_history_pkey PRIMARY KEY (entity, seq);
DROP INDEX event_history_by_entity;
