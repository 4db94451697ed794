-- Journeys (issue #6, stage "journeys"): every person's steps, sessions and journeys.

-- Every event of a known person as a step: what happened, where, and its journey stage.
create table if not exists journey_steps (
    seq         bigint not null,       -- events.seq
    person_id   varchar not null,
    "timestamp" timestamptz not null,
    step        varchar not null,      -- the track event name, or 'page:<name>' / 'screen:<name>'
    channel     varchar,
    stage       varchar,               -- discover | consider | buy | receive | use | get help | return | leave
    session_no  integer,               -- the person's session (30 minutes of quiet start a new one)
    journey_id  varchar                -- the purchase / service / booking journey it belongs to
);

-- Sessions: runs of a person's events with no gap over session_minutes.
create table if not exists journey_sessions (
    person_id   varchar not null,
    session_no  integer not null,
    started_at  timestamptz,
    ended_at    timestamptz,
    events      bigint,
    channel     varchar,
    first_step  varchar,
    last_step   varchar,
    converted   boolean               -- an order was completed in it
);

-- Journeys: purchases (order_id), service cases (case_id) and bookings (booking_id).
create table if not exists journeys (
    journey_id  varchar not null,      -- 'order:O1000001' | 'case:C500001' | 'booking:B700001'
    person_id   varchar not null,
    kind        varchar not null,      -- purchase | service | booking
    started_at  timestamptz,
    ended_at    timestamptz,
    events      bigint,
    stages      varchar,               -- stages passed, in order (comma-separated)
    outcome     varchar                -- completed | delivered | refunded | returned | resolved | open | fixed | changed
);

-- The stage map in use (events → stages), written by the stage; edit with `empatia journeys stages`.
create table if not exists journey_stage_map (
    pattern  varchar primary key,      -- an event name, or 'page:*' style prefix patterns
    stage    varchar not null
);
