-- What the last profiles run saw, so that a run with nothing new can skip the rebuild.
create table if not exists profiles_state (
    key   varchar primary key,
    value varchar
);
