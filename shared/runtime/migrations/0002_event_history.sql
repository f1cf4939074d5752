-- Each service's own output events per entity: history pages and explanations.
CREATE TABLE event_history (
    seq          bigserial PRIMARY KEY,
    entity       text        NOT NULL,
    event_id     uuid        NOT NULL UNIQUE,
    type         text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    payload      jsonb       NOT NULL
);
CREATE INDEX event_history_by_entity ON event_history (entity, seq);
