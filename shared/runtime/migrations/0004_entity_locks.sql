-- One row per entity a consumer decides for (a wallet, a creator, a sender), created the first
-- time one is locked. Locking a row that exists is what lets two instances of a service take
-- turns on an entity they have never seen: a SELECT ... FOR UPDATE of a state row that is not
-- there yet locks nothing, and both would start from an empty state.
CREATE TABLE entity_locks (
    entity  text PRIMARY KEY
);
