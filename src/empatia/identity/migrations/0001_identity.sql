-- Identity resolution (stage "identity"). Other stages read identities and event_persons.

-- Every normalised identifier seen in an event: the input of stitching, extracted once.
create table if not exists identity_event_ids (
    seq    bigint  not null,
    kind   varchar not null,   -- user_id | anonymous_id | email | phone | device_id | loyalty_id | crm_id
    value  varchar not null    -- normalised (emails lower-cased, phones E.164, …)
);

-- Every identifier and its person.
create table if not exists identities (
    kind      varchar not null,
    value     varchar not null,
    person_id varchar not null
);

-- Every event's person.
create table if not exists event_persons (
    seq       bigint  not null,
    person_id varchar not null
);

-- Which ids merged (or split) when and why; read by the UI and the erasure path.
create table if not exists merge_history (
    merge_id        varchar not null,
    merged_at       timestamptz not null,
    run_id          varchar not null,
    action          varchar not null,  -- merge | split | unmerge
    person_id       varchar not null,  -- the surviving (or, for split/unmerge, the new) person
    other_person_id varchar not null,  -- the absorbed (or the original) person
    identifiers     bigint,            -- identifiers that moved
    reason          varchar,           -- shared identifier | probabilistic match | unmerge
    evidence        varchar            -- e.g. 'email:a@b.c ~ user_id:u1 (event 42)'
);

-- The identifiers that moved in each merge_history row (what unmerge moves back).
create table if not exists merge_identifiers (
    merge_id varchar not null,
    kind     varchar not null,
    value    varchar not null
);

-- Over-merge guard: identifiers that would have joined too many people.
create table if not exists identity_blocked (
    kind           varchar not null,
    value          varchar not null,
    neighbour_kind varchar,
    neighbours     bigint,    -- distinct identifiers of neighbour_kind seen with it
    max_allowed    bigint,
    events         bigint,
    reason         varchar
);

-- CRM / loyalty records for probabilistic matching.
create table if not exists identity_records (
    seq         bigint not null,
    kind        varchar not null,   -- crm_id | loyalty_id
    value       varchar not null,
    first_name  varchar,
    last_name   varchar,
    birth_date  varchar,
    city        varchar,
    street      varchar,
    postal_code varchar,
    email       varchar,
    phone       varchar
);

-- Probabilistic links accepted (match_probability >= threshold).
create table if not exists identity_matches (
    kind_l varchar not null, value_l varchar not null,
    kind_r varchar not null, value_r varchar not null,
    match_probability double
);

-- Borderline probabilistic pairs for a person to review.
create table if not exists identity_review (
    kind_l varchar not null, value_l varchar not null,
    kind_r varchar not null, value_r varchar not null,
    match_probability double,
    person_id_l varchar,
    person_id_r varchar,
    status varchar not null default 'open'   -- open | accepted | rejected
);

-- Decisions of people: pins keep identifiers with a person (set by unmerge).
create table if not exists identity_pins (
    kind       varchar not null,
    value      varchar not null,
    person_id  varchar not null,
    created_at timestamptz not null default now()
);

-- Emails and phones already normalised (raw text + region → normalised value).
create table if not exists identity_value_map (
    kind   varchar not null,
    raw    varchar not null,
    region varchar not null,
    value  varchar
);

create table if not exists identity_state (
    key   varchar primary key,
    value varchar
);
