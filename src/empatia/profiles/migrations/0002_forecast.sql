-- The next purchase as a forecast: the rhythm's date, or now when that date has passed.
alter table profiles add column if not exists next_purchase_forecast timestamptz;
