-- Up Migration

-- One row per saga instance: where it is (status, direction, current step), what it carries
-- (data), what it waits for (awaiting_message_id, wake_at) and why it failed. Every transition
-- is an UPDATE guarded by `version` (optimistic concurrency), in the same transaction as the
-- step's local effects and outgoing commands (outbox).
CREATE TABLE saga_instances (
  id                  uuid PRIMARY KEY,
  -- The definition that runs this instance, by name and version, never by code position: an
  -- instance keeps running the version it was started with.
  definition_name     text NOT NULL,
  definition_version  integer NOT NULL,
  status              text NOT NULL CHECK (status IN (
                        'RUNNING', 'AWAITING_REPLY', 'COMPENSATING',
                        'COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED', 'FAILED')),
  direction           text NOT NULL CHECK (direction IN ('forward', 'compensate')),
  -- The step being executed (forward) or compensated (compensate); null once final.
  current_step        text,
  -- Attempts made so far at current_step in the current direction.
  attempt             integer NOT NULL DEFAULT 0,
  data                jsonb NOT NULL,
  -- Steps whose compensation is registered, in the order they completed; compensation pops
  -- from the end, so it runs in reverse.
  compensations       text[] NOT NULL DEFAULT '{}',
  -- The deterministic id of the command whose reply is awaited; a reply with any other
  -- causation id is late or duplicated and is ignored.
  awaiting_message_id uuid,
  -- Durable timer: when the saga is next due (a retry after backoff, a reply deadline);
  -- null while it waits for a reply without deadline and once final.
  wake_at             timestamptz,
  failure_code        text,
  failure_reason      text,
  failure_step        text,
  version             integer NOT NULL,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  finished_at         timestamptz
);

CREATE UNIQUE INDEX saga_instances_awaiting_idx ON saga_instances (awaiting_message_id)
  WHERE awaiting_message_id IS NOT NULL;

-- Recovery scans only sagas that are not final, by due time.
CREATE INDEX saga_instances_due_idx ON saga_instances (wake_at)
  WHERE status IN ('RUNNING', 'AWAITING_REPLY', 'COMPENSATING');

-- One row per step and direction of an instance: its outcome, attempts, timing and last error.
CREATE TABLE saga_step_log (
  saga_id             uuid NOT NULL REFERENCES saga_instances (id) ON DELETE CASCADE,
  step                text NOT NULL,
  -- The action's display name: the step's, or its compensation's (e.g. release-inventory).
  action              text NOT NULL,
  direction           text NOT NULL CHECK (direction IN ('forward', 'compensate')),
  status              text NOT NULL CHECK (status IN (
                        'retrying', 'awaiting_reply', 'succeeded', 'failed', 'exhausted', 'timed_out')),
  attempts            integer NOT NULL,
  started_at          timestamptz NOT NULL,
  finished_at         timestamptz,
  duration_ms         integer,
  failure_code        text,
  last_error          text,
  command_message_id  uuid,
  reply_message_id    uuid,
  updated_at          timestamptz NOT NULL,
  PRIMARY KEY (saga_id, step, direction)
);

-- Down Migration
DROP TABLE saga_step_log;
DROP TABLE saga_instances;
