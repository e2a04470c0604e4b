-- Up Migration

-- The order in which a saga's step-log rows were first written, which is the order its steps
-- started. started_at alone does not tell: transitions written together in one transaction (a
-- reply and the local steps after it) can start within the same millisecond.
ALTER TABLE saga_step_log ADD COLUMN seq bigserial NOT NULL;

-- Down Migration

ALTER TABLE saga_step_log DROP COLUMN seq;
