-- What an incremental stage last saw of each person (empatia.store.changes): a digest of the
-- person's events (and identifiers), so that the next run recomputes only those that changed.
create table if not exists person_marks (
    stage     varchar not null,
    person_id varchar not null,
    mark      ubigint not null,
    primary key (stage, person_id)
);
-- Per incremental stage: the settings its rows were built with, and the erasures seen then.
create table if not exists stage_marks (
    stage     varchar primary key,
    settings  varchar,
    erasures  bigint
);
