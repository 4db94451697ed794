-- Privacy (issue #9): consent ledger, tombstones, audit log, progressive profiling.

-- Workspace secrets and cursors of the privacy stage (the tombstone salt, the last seq read).
create table if not exists privacy_state (
    key   varchar primary key,
    value varchar not null
);

-- Every consent decision, never updated: the current state is derived (consent_current).
create sequence if not exists consent_seq start 1;
create table if not exists consent_ledger (
    consent_id   bigint not null default nextval('consent_seq'),
    person_id    varchar,            -- when the caller knew it (API, profiling answers)
    user_id      varchar,            -- else the event's ids, mapped to a person at read time
    anonymous_id varchar,
    purpose      varchar not null,   -- analytics | personalisation | marketing_<channel> | partner_sharing | profiling
    granted      boolean not null,
    legal_basis  varchar,            -- consent | contract | legitimate_interest | …
    source       varchar not null,   -- 'event' | 'context' | 'api:<key id>' | 'profiling'
    seq          bigint,             -- events.seq when it came from an event
    decided_at   timestamptz not null,
    recorded_at  timestamptz not null default now()
);

-- Until the identity stage exists, a subject is its person id, else user_id:…, else anonymous_id:….
-- empatia.privacy.consent.ensure_view() replaces this view with one that maps ids to persons.
create or replace view consent_current as
select subject as person_id, purpose,
       arg_max(granted, (decided_at, consent_id)) as granted,
       max(decided_at) as decided_at,
       arg_max(source, (decided_at, consent_id)) as source,
       arg_max(legal_basis, (decided_at, consent_id)) as legal_basis
from (
    select *, coalesce(person_id, 'user_id:' || user_id, 'anonymous_id:' || anonymous_id) as subject
    from consent_ledger
)
group by subject, purpose;

-- Erased people: salted SHA-256 of each identifier, never the identifier.
create table if not exists privacy_tombstones (
    hash       varchar primary key,
    erased_at  timestamptz not null default now()
);

-- Who read, exported or erased whose data.
create sequence if not exists audit_seq start 1;
create table if not exists privacy_audit (
    audit_id  bigint not null default nextval('audit_seq'),
    logged_at timestamptz not null default now(),
    actor     varchar not null,   -- 'key:<key id>' | 'cli' | 'stage'
    action    varchar not null,   -- read | export | erase | partner_export | retention | consent
    subject   varchar,            -- a person id (a tombstone hash once that person is erased)
    detail    varchar             -- what, never personal data
);

-- Progressive profiling: what was asked and answered (answers become traits).
create table if not exists profiling_asks (
    person_id   varchar not null,
    question_id varchar not null,
    asked_at    timestamptz not null default now()
);
create table if not exists profiling_answers (
    person_id   varchar not null,
    question_id varchar not null,
    trait       varchar not null,
    value       varchar,            -- null when declined
    declined    boolean not null,
    answered_at timestamptz not null default now()
);
