-- Who publishes this schema's outbox. The leading relay's session holds a lock on this table
-- (LOCK TABLE in this mode needs UPDATE rights on it, so only the service's own role can take
-- it; an advisory lock could be taken by any role and stop the service publishing), and took
-- over at `epoch`: its reads of the outbox name the epoch, so a relay that lost its lock
-- without noticing yet reads nothing once another has taken over.
CREATE TABLE relay_leadership (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch     bigint  NOT NULL
);
INSERT INTO relay_leadership (epoch) VALUES (0);
