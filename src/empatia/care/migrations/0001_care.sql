-- Special-care alerts (stage "care", issue #7). Customer text is never copied here: evidence
-- points at events by seq, and quotes are read from the event log when a viewer may see them.

-- The ranked list of the latest run: influence × risk × value, explained.
create table if not exists care_list (
    rank         integer not null,
    person_id    varchar not null,
    influence    double not null,   -- [0, 1]
    risk         double not null,   -- [0, 1]
    value        double not null,   -- [0, 1], a multiplier (value_floor … 1)
    score        double not null,   -- influence × risk × value
    explanation  varchar not null,  -- plain language, nothing a read key may not see
    evidence     json not null,     -- {"traits":…, "messages":[{seq,…}], "journeys":[…], "factors":…}
    status       varchar not null,  -- new | acknowledged
    alert_id     varchar,           -- the latest alert for this person
    last_seq     bigint,            -- newest event behind the evidence
    computed_at  timestamptz not null
);

-- One row per change worth telling a person about: somebody entered the list or worsened.
create table if not exists care_alerts (
    alert_id        varchar primary key,
    idempotency_key varchar not null unique,  -- person + kind + newest evidence: one alert per change
    person_id       varchar not null,
    kind            varchar not null,          -- entered | worsened
    score           double not null,
    previous_score  double,
    influence       double,
    risk            double,
    value           double,
    explanation     varchar not null,
    evidence        json not null,
    last_seq        bigint,
    status          varchar not null default 'open',  -- open | acknowledged | resolved | superseded
    created_at      timestamptz not null default now()
);

-- What people did with alerts: acknowledge / resolve / reopen, with a note.
create table if not exists care_acknowledgements (
    alert_id   varchar not null,
    person_id  varchar not null,
    action     varchar not null,   -- acknowledged | resolved
    note       varchar,
    actor      varchar,            -- key id or user name
    last_seq   bigint,             -- newest evidence seen when resolved: newer evidence reopens
    acted_at   timestamptz not null default now()
);

-- Where alerts go. The secret signs each body (HMAC-SHA256); it is shown once when created.
create table if not exists care_webhooks (
    webhook_id  varchar primary key,
    kind        varchar not null default 'webhook',  -- an alert sink (see empatia.care.sinks)
    url         varchar not null,
    secret      varchar not null,
    min_score   double not null default 0,
    active      boolean not null default true,
    created_at  timestamptz not null default now()
);

-- Every delivery attempt, and the outcome per alert and webhook.
create table if not exists care_deliveries (
    alert_id        varchar not null,
    webhook_id      varchar not null,
    idempotency_key varchar not null,
    attempt         integer not null,
    status          varchar not null,  -- delivered | failed | gave_up
    http_status     integer,
    error           varchar,
    next_attempt_at timestamptz,
    attempted_at    timestamptz not null default now()
);
