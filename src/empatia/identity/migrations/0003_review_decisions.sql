-- A person's answers to review pairs are their own table (issue #17): one writer per table.
-- identity_review is the identity stage's list of open pairs (in the lake in a lake workspace,
-- rewritten by each run); identity_decisions keeps what people decided, and each run reads it.
create table if not exists identity_decisions (
    kind_l varchar not null, value_l varchar not null,
    kind_r varchar not null, value_r varchar not null,
    match_probability double,          -- the model's, when the pair was decided
    status     varchar not null,       -- accepted | rejected
    decided_at timestamptz not null default now()
);
insert into identity_decisions (kind_l, value_l, kind_r, value_r, match_probability, status)
select kind_l, value_l, kind_r, value_r, match_probability, status
from identity_review where status <> 'open';
delete from identity_review where status <> 'open';
alter table identity_review drop column status;
