-- Next-best actions (stage "decide", issue #8).

-- Per person: the precomputed candidates (best first, with scores and explanation inputs)
-- and the policy inputs at training time. The real-time path reads one row.
create table if not exists decide_inputs (
    person_id   varchar primary key,
    candidates  json not null,      -- [{"item","score","components":{…},"name","category","count",…}]
    state       json not null,      -- PersonState as of computed_at
    cold_start  boolean not null,   -- no purchase history: fallback candidates, labelled
    computed_at timestamptz not null,
    seq         bigint              -- the newest event training saw: newer consent events count live
);

-- One decision per person (the batch), read by the UI, the API and the export.
create table if not exists decisions (
    person_id   varchar primary key,
    action      varchar not null,   -- an id of the action catalogue (actions.toml)
    kind        varchar not null,   -- offer | coupon | recovery | survey | question | human | nothing
    channel     varchar,
    items       json,               -- item ids, best first
    reason      varchar not null,   -- a short human reason
    scores      json,               -- the scores behind it
    policy      json,               -- the policy notes (what was refused and why)
    fallback    boolean not null,   -- not a personal pick (cold start / no personalisation consent)
    cost        double,
    expires_at  timestamptz not null,
    decided_at  timestamptz not null
);

-- Every real-time decision answered (and batch decisions once delivered): contact fatigue
-- counts the delivered ones.
create table if not exists decision_log (
    person_id   varchar not null,
    action      varchar not null,
    channel     varchar,
    source      varchar not null,   -- live | batch
    delivered   boolean not null,
    decided_at  timestamptz not null,
    decision    json
);

create table if not exists decide_runs (
    trained_at  timestamptz not null,
    persons     bigint,
    items       bigint,
    train_s     double,
    decide_s    double,
    weights     json
);
