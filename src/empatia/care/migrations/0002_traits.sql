-- The influence traits each person's events carry (the latest of each), kept per person by the
-- care stage: an incremental run re-reads only the events of the people who changed.
create table if not exists care_traits (
    person_id            varchar not null,
    profession           varchar,
    followers            varchar,
    followers_by_network varchar,
    press                varchar,
    vip                  varchar,
    tier                 varchar,
    referrals            varchar
);
