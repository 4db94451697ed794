-- Emotion, effort and themes from customers' own words (issue #5).
-- The customer's text itself is never copied here: rows point at events by seq.

-- Results per distinct text and analyzer version: re-running never analyses a text twice.
create table if not exists text_cache (
    text_hash   varchar not null,   -- md5 of locale hint + text
    analyzer    varchar not null,   -- 'encoder:<version>' | 'fast:<version>' | 'transformers:<…>'
    result      json not null,      -- Analysis.as_dict()
    primary key (text_hash, analyzer)
);

-- One row per text touchpoint (any track event with properties.text or properties.comment).
create table if not exists text_analysis (
    seq              bigint primary key,   -- events.seq
    message_id       varchar,
    user_id          varchar,
    anonymous_id     varchar,
    "timestamp"      timestamptz,
    event            varchar,
    channel          varchar,
    text_hash        varchar not null,
    n_chars          integer,
    language         varchar,
    sentiment        varchar,              -- negative | neutral | positive
    score            double,               -- [-1, 1]
    anger            double,
    frustration      double,
    disappointment   double,
    sadness          double,
    fear             double,
    joy              double,
    gratitude        double,
    trust            double,
    surprise         double,
    dominant_emotion varchar,
    effort           json,                 -- [{"cue":"repeated_contact","n":7,"unit":"contact"}, …]
    escalation       json,                 -- [{"cue":"public"}, …]
    n_effort         integer,
    n_escalation     integer,
    themes           json,                 -- ["delivery", …] (encoder only)
    confidence       double,
    analyzer         varchar not null,
    analyzed_at      timestamptz not null default now()
);

-- Sentences of texts with more than one sentence.
create table if not exists text_sentences (
    seq              bigint not null,      -- events.seq
    idx              integer not null,     -- sentence number in the text, from 0
    language         varchar,
    sentiment        varchar,
    score            double,
    dominant_emotion varchar,
    emotions         json,
    effort           json,
    escalation       json,
    confidence       double,
    primary key (seq, idx)
);

-- Workspace choices of the emotion stage (analyzer = encoder | fast | transformers, model_dir …).
create table if not exists emotion_config (
    key   varchar primary key,
    value varchar not null
);
