-- The customer's verdict: the sentiment of their words after the case was resolved.
alter table experience_journeys add column if not exists verdict_score double;
