-- Snapshots are only ever read back whole, by the service itself: stored as the JSON text it
-- wrote, neither parsed on save nor rendered on load.
ALTER TABLE wallets ALTER COLUMN state TYPE json USING state::json;
