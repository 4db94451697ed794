-- When each training ran, by the server's clock (issue #14): `empatia run` retrains when the
-- model is older than `decide_retrain_days`. Models trained before this column existed count
-- from the upgrade.
alter table decide_runs add column if not exists ran_at timestamptz;
update decide_runs set ran_at = now() where ran_at is null;
