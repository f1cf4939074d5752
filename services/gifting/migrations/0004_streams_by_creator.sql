-- A creator's leaderboard answers 404 for a creator gifting has never seen a stream of.
CREATE INDEX streams_by_creator ON streams (creator_id);
