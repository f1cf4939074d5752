-- Which relay publishes this schema's outbox (shared/runtime/lease.py): the holder of this one
-- row until expires_at, at `epoch`, which moves on with every change of holder. holder_pid and
-- holder_since name the session that renewed it last, so a relay whose process died is
-- replaced without waiting for the expiry. Only the schema's owner may write the row: another
-- role cannot take the lease (it could take the advisory lock that elected the relay before).
CREATE TABLE relay_lease (
    only_row      boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    holder        text,
    epoch         bigint      NOT NULL DEFAULT 0,
    expires_at    timestamptz NOT NULL DEFAULT '-infinity',
    holder_pid    integer,
    holder_since  timestamptz
);
INSERT INTO relay_lease DEFAULT VALUES;
