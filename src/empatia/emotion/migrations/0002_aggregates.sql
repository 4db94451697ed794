-- The emotion stage's aggregates, rebuilt whole on every run (issue #16: a stage's outputs
-- have declared schemas). Stores made before this migration hold the same columns.

-- Per touchpoint (event and channel) over every analysed text.
create table if not exists touchpoint_emotion (
    event            varchar,
    channel          varchar,
    n_texts          bigint,
    mean_score       double,
    share_negative   double,
    share_effort     double,
    share_escalation double,
    anger double, frustration double, disappointment double, sadness double, fear double,
    joy double, gratitude double, trust double, surprise double
);

-- Per person (identity's event_persons), with their latest text.
create table if not exists person_emotion (
    person_id          varchar,
    n_texts            bigint,
    mean_score         double,
    min_score          double,
    n_negative         bigint,
    n_effort_cues      bigint,
    n_escalation_cues  bigint,
    last_text_at       timestamptz,
    last_score         double,
    last_sentiment     varchar,
    last_emotion       varchar,
    last_seq           bigint,
    anger double, frustration double, disappointment double, sadness double, fear double,
    joy double, gratitude double, trust double, surprise double,
    score_trend_per_day double                -- least-squares slope of score per day
);
