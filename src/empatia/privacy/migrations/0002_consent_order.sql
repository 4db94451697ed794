-- Consent that holds (issue #13): nobody decides in the future, and the server's own clock
-- orders what it learnt. Event records learnt their time from the event's received_at; every
-- decision time is clamped to when it was learnt.
update consent_ledger set recorded_at = e.received_at
from events e where e.seq = consent_ledger.seq and e.received_at < consent_ledger.recorded_at;
update consent_ledger set decided_at = recorded_at where decided_at > recorded_at;

-- A grant holds only while it is the latest decision both by when it was learnt and by when it
-- was made: a withdrawal wins every tie or disagreement (empatia.privacy.consent.CURRENT_COLUMNS;
-- ensure_view() maps ids to persons once identity has run).
create or replace view consent_current as
select subject as person_id, purpose,
       arg_max(granted, (recorded_at, coalesce(seq, 0), consent_id))
       and arg_max(granted, (decided_at, recorded_at, coalesce(seq, 0), consent_id)) as granted,
       max(decided_at) as decided_at,
       arg_max(source, (recorded_at, coalesce(seq, 0), consent_id)) as source,
       arg_max(legal_basis, (recorded_at, coalesce(seq, 0), consent_id)) as legal_basis,
       max(recorded_at) as recorded_at
from (
    select *, coalesce(person_id, 'user_id:' || user_id, 'anonymous_id:' || anonymous_id) as subject
    from consent_ledger
)
group by subject, purpose;
