-- "Still active": quiet is measured against the person's own rhythm of active days.
alter table experience_activity add column if not exists first_active_at timestamptz;
alter table experience_activity add column if not exists active_days bigint;
