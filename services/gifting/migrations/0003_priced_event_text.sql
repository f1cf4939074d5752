-- The priced event a gift waits with is only read back whole, by the service itself: stored
-- as the JSON text it wrote, neither parsed on save nor rendered on load.
ALTER TABLE gifts ALTER COLUMN priced_event TYPE json USING priced_event::json;
