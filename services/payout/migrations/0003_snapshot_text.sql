-- Snapshots and followed policy events are only ever read back whole, by the service itself:
-- stored as the JSON text it wrote, neither parsed on save nor rendered on load.
ALTER TABLE creators ALTER COLUMN state TYPE json USING state::json;
ALTER TABLE policy_events ALTER COLUMN payload TYPE json USING payload::json;
