-- Up Migration

ALTER TABLE saga_instances
  -- The orchestrator instance driving the saga and until when (a lease): recovery in another
  -- instance takes only sagas whose lease is free or expired, so two instances never run the
  -- same saga at once. Released whenever the saga waits (a reply, a timer) or ends.
  ADD COLUMN owner text,
  ADD COLUMN lease_until timestamptz,
  -- The saga deadline (definition deadlineMs after the start): a durable timer like wake_at.
  ADD COLUMN deadline_at timestamptz,
  -- Set when this saga cannot be run by the instance that found it (an unknown definition
  -- version or step): left alone, not mis-run, until an instance that knows it starts.
  ADD COLUMN parked_at timestamptz,
  ADD COLUMN parked_reason text,
  -- Operator retries of a parked saga; part of its command ids (see commandMessageId).
  ADD COLUMN generation integer NOT NULL DEFAULT 0;

-- Recovery scans sagas that are not final and not parked, by due time.
DROP INDEX saga_instances_due_idx;
CREATE INDEX saga_instances_due_idx ON saga_instances (wake_at)
  WHERE status IN ('RUNNING', 'AWAITING_REPLY', 'COMPENSATING') AND parked_at IS NULL;
CREATE INDEX saga_instances_parked_idx ON saga_instances (parked_at) WHERE parked_at IS NOT NULL;
-- The query API lists sagas by status (and type and age).
CREATE INDEX saga_instances_status_idx ON saga_instances (status, created_at);

-- Everything that happened to a saga, in order: each transition (attempts, retries, commands
-- sent, replies applied, timeouts), replies ignored as late or duplicated, parking and operator
-- retries. Written in the transaction of what it records. GET /sagas/{id} shows it.
CREATE TABLE saga_timeline (
  saga_id      uuid NOT NULL REFERENCES saga_instances (id) ON DELETE CASCADE,
  seq          bigserial NOT NULL,
  at           timestamptz NOT NULL,
  -- started, retrying, awaiting_reply, succeeded, failed, exhausted, timed_out, reply_ignored,
  -- parked, unparked, retried
  event        text NOT NULL,
  step         text,
  action       text,
  direction    text,
  attempt      integer,
  -- The saga's status after the event.
  status       text NOT NULL,
  -- The command sent, or the reply received or ignored.
  message_id   uuid,
  message_type text,
  detail       text,
  -- The orchestrator instance that recorded it.
  owner        text,
  PRIMARY KEY (saga_id, seq)
);

-- Down Migration
DROP TABLE saga_timeline;
DROP INDEX saga_instances_status_idx;
DROP INDEX saga_instances_parked_idx;
DROP INDEX saga_instances_due_idx;
CREATE INDEX saga_instances_due_idx ON saga_instances (wake_at)
  WHERE status IN ('RUNNING', 'AWAITING_REPLY', 'COMPENSATING');
ALTER TABLE saga_instances
  DROP COLUMN generation,
  DROP COLUMN parked_reason,
  DROP COLUMN parked_at,
  DROP COLUMN deadline_at,
  DROP COLUMN lease_until,
  DROP COLUMN owner;
