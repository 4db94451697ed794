-- Which case each service event belongs to (the experience stage keeps it, new events only), so
-- that an incremental run finds every event of the cases it rebuilds without reading them all.
create table if not exists experience_case_events (
    seq     bigint not null,   -- events.seq
    case_id varchar not null
);
