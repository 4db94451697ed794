-- The raw event log: append-only. Every event keeps its original JSON.
create sequence if not exists events_seq start 1;
create table if not exists events (
    seq                 bigint not null default nextval('events_seq'),  -- ingestion order
    message_key         uhugeint not null,  -- md5_number(message_id): the dedupe key
    message_id          varchar not null,   -- the client's messageId, or one derived from the content
    type                varchar not null,   -- track | identify | page | screen | group | alias
    event               varchar,            -- track: the event name
    name                varchar,            -- page / screen: the name
    user_id             varchar,
    anonymous_id        varchar,
    previous_id         varchar,            -- alias
    group_id            varchar,            -- group
    "timestamp"         timestamptz not null,  -- skew-corrected event time
    original_timestamp  timestamptz,        -- the client's timestamp, as sent
    sent_at             timestamptz,
    received_at         timestamptz not null,  -- server-assigned
    source              varchar not null,   -- 'key:<key id>' or 'file:<file name>'
    raw                 varchar not null    -- the event's JSON exactly as received
);
create unique index if not exists events_message_key on events (message_key);
