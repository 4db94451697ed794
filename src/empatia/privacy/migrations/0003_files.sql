-- Files the product wrote that may hold personal data (partner exports, subject exports):
-- erasure removes the erased person from each one that still exists.
create table if not exists privacy_files (
    path       varchar primary key,
    kind       varchar not null,   -- partner_export | subject_export
    person_id  varchar,            -- a subject export's person
    written_at timestamptz not null default now()
);
