-- A national id (traits.nationalId) on CRM / loyalty records: one more field for matching.
alter table identity_records add column if not exists national_id varchar;
