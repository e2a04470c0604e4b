-- Up Migration

-- Inbox rows are written before the handler runs (outcome 'in_progress', committed on its own),
-- so that a message that crashes its consumer is recognised when it is delivered again:
-- `deliveries` counts the deliveries, and a message delivered too often is dead-lettered
-- instead of crashing the consumer forever.
ALTER TABLE inbox ADD COLUMN deliveries integer NOT NULL DEFAULT 1;
ALTER TABLE inbox DROP CONSTRAINT inbox_outcome_check;
ALTER TABLE inbox ADD CONSTRAINT inbox_outcome_check CHECK (outcome IN ('in_progress', 'processed', 'skipped', 'dead_lettered'));

-- A dead letter is also published to `<topic>.dlq` through the outbox. Its record is the
-- original one, byte for byte: a value that is not JSON (raw_value) and possibly no key.
ALTER TABLE outbox ADD COLUMN raw_value text;
ALTER TABLE outbox ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE outbox ALTER COLUMN key DROP NOT NULL;
ALTER TABLE outbox ADD CONSTRAINT outbox_value_present CHECK (payload IS NOT NULL OR raw_value IS NOT NULL);

-- Replaying a dead letter (the admin endpoint) runs its handler again; these record how that went.
ALTER TABLE dead_letters ADD COLUMN replayed_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN replay_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE dead_letters ADD COLUMN last_replay_error text;

-- Operators list the dead letters still waiting for a replay, newest first.
CREATE INDEX dead_letters_pending_idx ON dead_letters (consumer, created_at DESC) WHERE replayed_at IS NULL;

-- Down Migration
DROP INDEX dead_letters_pending_idx;
ALTER TABLE dead_letters DROP COLUMN last_replay_error;
ALTER TABLE dead_letters DROP COLUMN replay_attempts;
ALTER TABLE dead_letters DROP COLUMN replayed_at;
DELETE FROM outbox WHERE payload IS NULL OR key IS NULL;
ALTER TABLE outbox DROP CONSTRAINT outbox_value_present;
ALTER TABLE outbox ALTER COLUMN key SET NOT NULL;
ALTER TABLE outbox ALTER COLUMN payload SET NOT NULL;
ALTER TABLE outbox DROP COLUMN raw_value;
DELETE FROM inbox WHERE outcome = 'in_progress';
ALTER TABLE inbox DROP CONSTRAINT inbox_outcome_check;
ALTER TABLE inbox ADD CONSTRAINT inbox_outcome_check CHECK (outcome IN ('processed', 'skipped', 'dead_lettered'));
ALTER TABLE inbox DROP COLUMN deliveries;
