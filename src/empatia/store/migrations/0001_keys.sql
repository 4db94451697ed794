-- API keys: only a SHA-256 of the secret is kept.
create table if not exists api_keys (
    key_id      varchar primary key,
    name        varchar not null,
    scope       varchar not null,      -- write | read | admin
    secret_hash varchar not null unique,
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz
);
