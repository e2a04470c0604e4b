-- Up Migration

-- The order in which a saga's step-log rows were first written: it breaks ties of started_at,
-- as transitions written together in one transaction (a reply and the local steps after it) can
-- start within the same millisecond. Rows that exist already are numbered in no particular order.
ALTER TABLE saga_step_log ADD COLUMN seq bigserial NOT NULL;

-- Down Migration

ALTER TABLE saga_step_log DROP COLUMN seq;
