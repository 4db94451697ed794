-- "Still active": the purchase model's chance (profiles.p_alive) moved by what the person said
-- and went through (issue #15). The *_at/_seq facts come from the person's own events and are
-- recomputed when they change; p_active and its drivers are recomputed for everyone each run.
create table if not exists experience_activity (
    person_id      varchar primary key,
    last_order_at  timestamptz,
    last_active_at timestamptz,  -- last thing they did themselves: a visit, an order, a message …
    threat_at      timestamptz,  -- their latest churn threat (escalation cue leave/public/legal)
    threat_cue     varchar,
    threat_seq     bigint,
    hurt_at        timestamptz,  -- their latest angry, frustrated or very negative words
    hurt_seq       bigint,
    kind_at        timestamptz,  -- their latest kind words
    p_alive        double,       -- the purchase model's (profiles)
    p_active       double,       -- p_alive moved by the drivers; null without p_alive
    drivers        varchar,      -- codes, strongest first: threat, hurt_case, hurt_words, open_case, repeat, worsening, quiet
    driver         varchar,      -- the strongest in words, e.g. 'threatened to leave 40 days ago'
    as_of          timestamptz
);
