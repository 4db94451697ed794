-- "Still active": the weights of its drivers and the activity rhythm's model, fitted on the
-- store's own past (experience/activity_fit.py), one row per parameter.
create table if not exists experience_activity_model (
    name      varchar primary key,  -- a driver (its weight), scale, intercept, buyers, base_<parameter>
    value     double,
    prior     double,               -- the hand-set weight the fit started from and is pulled toward
    people    bigint,               -- people the fit saw with this driver (scale: everyone it saw)
    cutoff    timestamptz,          -- the past moment the drivers were read at
    fitted_at timestamptz,          -- the latest event when it was fitted
    settings  varchar
);
