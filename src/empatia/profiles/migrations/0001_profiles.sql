-- Unified profiles (stage "profiles"): one row per person.
create table if not exists profiles (
    person_id          varchar not null,
    identifiers        bigint,       -- how many identifiers (see identities)
    user_id            varchar,      -- the smallest user id, if any
    email              varchar,
    phone              varchar,
    first_name         varchar,
    last_name          varchar,
    language           varchar,
    market             varchar,
    tier               varchar,
    profession         varchar,
    followers          varchar,
    vip                varchar,
    first_seen         timestamptz,
    last_seen          timestamptz,
    events             bigint,
    channels           varchar,      -- comma-separated, in a fixed order
    channel_count      bigint,
    preferred_channel  varchar,
    preferred_hour     integer,      -- UTC hour with the most events
    orders             bigint,
    revenue            double,
    avg_order_value    double,
    first_order_at     timestamptz,
    last_order_at      timestamptz,
    recency_days       double,       -- as_of − last order
    r_score            integer,      -- 1..5 (5 = most recent)
    f_score            integer,
    m_score            integer,
    rfm                varchar,      -- e.g. '545'
    cadence_days       double,       -- average days between purchase days
    next_purchase_at   timestamptz,  -- last order + cadence
    days_overdue       double,       -- as_of − next_purchase_at (positive: behind the usual rhythm)
    p_alive            double,       -- BG/NBD
    expected_purchases_90d double,   -- BG/NBD
    clv_12m            double,       -- BG/NBD + Gamma-Gamma, 12 months, monthly discount 1%
    as_of              timestamptz   -- the latest event time: what "now" means for this run
);

-- Every trait value chosen for a profile, and where it came from.
create table if not exists profile_traits (
    person_id   varchar not null,
    trait       varchar not null,
    value       varchar,
    source      varchar,       -- the event's channel, else its source (key:… / file:…)
    seq         bigint,
    "timestamp" timestamptz
);
