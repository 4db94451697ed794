-- Experience measured (issue #6, stage "experience"): surveys, effort, trajectories, gap.
-- Customers' words are never copied here: rows point at events by seq.

-- Every survey answer (Survey Answered), with its person and context; bots kept but excluded.
create table if not exists survey_responses (
    seq              bigint primary key,   -- events.seq
    message_id       varchar,
    person_id        varchar,
    survey           varchar not null,     -- nps | csat | ces
    score            double not null,      -- NPS 0–10, CSAT 1–5, CES 1–7 (7 = easy)
    touchpoint       varchar,
    channel          varchar,
    market           varchar,
    language         varchar,
    journey_stage    varchar,
    answered_at      timestamptz not null,
    duration_seconds double,
    has_comment      boolean,
    comment_score    double,               -- sentiment of the comment (emotion stage), [-1, 1]
    excluded         boolean not null default false,
    exclude_reason   varchar               -- speed, duplicate_text, straight_lining (comma-separated)
);

-- Every service journey (one support case): effort, the company's view, what it cost the customer.
create table if not exists experience_journeys (
    person_id          varchar not null,
    case_id            varchar not null,
    topic              varchar,
    first_at           timestamptz,
    last_at            timestamptz,
    last_seq           bigint,
    contacts           bigint,     -- Support Contact events
    steps              bigint,     -- every event of the case (contacts, messages, calls, …)
    channels           bigint,     -- distinct contact channels
    channel_switches   bigint,     -- contact channel changed from one contact to the next
    channel_path       varchar,    -- e.g. 'phone>phone>chat>email'
    transfers          bigint,
    wait_seconds       double,     -- total wait over all contacts
    live_wait_seconds  double,     -- wait on phone, chat and in store (not e-mail)
    repeat_contact     boolean,    -- a previous case on the same topic ended within repeat_days
    resolved           boolean,
    resolution         varchar,
    internal_success   boolean,    -- the company's own record says it went well
    self_rating        double,     -- mean agent_rating_internal (1–5)
    resolution_days    double,
    unresolved_age_days double,    -- for open cases: as_of − first_at
    texts              bigint,     -- customer texts in the case
    min_score          double,     -- lowest sentiment of those texts
    last_score         double,     -- sentiment of the customer's last word (up to 3 days after)
    last_text_seq      bigint,
    effort_score       double,     -- 0..1
    succeeded_but_hurt boolean,
    hurt_reasons       varchar,    -- e.g. '7 contacts, 3 channel switches, angry last word'
    evidence_seqs      varchar,    -- comma-separated events.seq of the customer's words
    bought_after       boolean,    -- ordered again within after_days
    left_after         boolean,    -- no event at all within after_days (and the world went on)
    public_after       boolean,    -- a public review of rating <= 2 within after_days
    as_of              timestamptz
);

-- decide reads this: the unresolved service journeys.
create or replace view journey_unresolved as
select person_id, case_id, topic, first_at, last_at, contacts, unresolved_age_days
from experience_journeys where not coalesce(resolved, false);

-- Every person's emotional trajectory over their text touchpoints.
create table if not exists experience_trajectories (
    person_id     varchar primary key,
    texts         bigint,
    first_at      timestamptz,
    last_at       timestamptz,
    average       double,
    recent        double,       -- mean of the last three texts
    trend_per_30d double,       -- least-squares slope of score over time, per 30 days
    lowest        double,
    lowest_at     timestamptz,
    lowest_seq    bigint,
    latest        double,
    latest_emotion varchar,
    direction     varchar       -- improving | worsening | steady
);

-- The company's view beside the customers', per touchpoint and overall (S6).
create table if not exists experience_gap (
    touchpoint        varchar not null,  -- 'overall' or a touchpoint
    company_n         bigint,
    company_view      double,  -- share the company's records call a success (0..1)
    self_rating       double,  -- the company's self-rated score, rescaled to 0..1
    customer_n        bigint,
    customer_view     double,  -- share of customers' own signals that are positive (0..1)
    gap               double   -- company_view − customer_view, in points of 0..1
);
