-- Consent decisions read from events are the privacy stage's own table (issue #17): one writer
-- per table, so in a lake workspace they live in the lake and a Spark run reads them on its
-- executors. consent_ledger keeps the decisions given through the HTTP API, the CLI and
-- profiling answers. ``part`` orders the decisions of one event (its track, then its context).
create table if not exists consent_events (
    seq          bigint not null,
    part         integer not null,
    user_id      varchar,
    anonymous_id varchar,
    purpose      varchar not null,
    granted      boolean not null,
    legal_basis  varchar,
    source       varchar not null,   -- 'event' | 'context'
    decided_at   timestamptz not null,
    recorded_at  timestamptz not null
);
insert into consent_events
select seq, (row_number() over (partition by seq order by consent_id) - 1)::integer,
       user_id, anonymous_id, purpose, granted, legal_basis, source, decided_at, recorded_at
from consent_ledger where seq is not null;
delete from consent_ledger where seq is not null;

-- The current state, over both (empatia.privacy.consent.current_expr; ensure_view() maps ids to
-- persons once identity has run).
create or replace view consent_current as
select subject as person_id, purpose,
       arg_max(granted, (recorded_at, coalesce(seq, 0), ord))
       and arg_max(granted, (decided_at, recorded_at, coalesce(seq, 0), ord)) as granted,
       max(decided_at) as decided_at,
       arg_max(source, (recorded_at, coalesce(seq, 0), ord)) as source,
       arg_max(legal_basis, (recorded_at, coalesce(seq, 0), ord)) as legal_basis,
       max(recorded_at) as recorded_at
from (
    select consent_id as ord, person_id, user_id, anonymous_id, purpose, granted, legal_basis,
           source, seq, decided_at, recorded_at,
           coalesce(person_id, 'user_id:' || user_id, 'anonymous_id:' || anonymous_id) as subject
    from consent_ledger
    union all
    select part, null, user_id, anonymous_id, purpose, granted, legal_basis, source, seq,
           decided_at, recorded_at, coalesce('user_id:' || user_id, 'anonymous_id:' || anonymous_id)
    from consent_events
)
group by subject, purpose;
