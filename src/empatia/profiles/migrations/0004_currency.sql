-- Exchange rates the user provides (`empatia rates import`): `rate` units of `currency` buy
-- one unit of `base` (the reporting currency) on `day`.
create table if not exists exchange_rates (
    base     varchar not null,
    currency varchar not null,
    day      date    not null,
    rate     double  not null,
    primary key (base, currency, day)
);
-- Money keeps its currency: revenue, average order and CLV are in `currency` (the reporting
-- currency), converted with the rates of `rates_from`..`rates_to`; when an amount could not be
-- converted they are NULL, `revenue_by_currency` keeps the sums and `revenue_note` says why.
alter table profiles add column if not exists currency varchar;
alter table profiles add column if not exists revenue_by_currency map(varchar, double);
alter table profiles add column if not exists revenue_note varchar;
alter table profiles add column if not exists rates_from date;
alter table profiles add column if not exists rates_to date;
