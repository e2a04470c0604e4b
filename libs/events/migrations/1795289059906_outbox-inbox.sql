-- Up Migration

-- Transactional outbox: messages written in the same transaction as the state change that
-- caused them; the OutboxRelay publishes them to Kafka in seq order and marks them published.
CREATE TABLE outbox (
  id           uuid PRIMARY KEY,                    -- the message id (Kafka header message_id)
  seq          bigserial NOT NULL,                  -- publication order
  topic        text NOT NULL,
  key          text NOT NULL,                       -- record key: the aggregate id
  type         text NOT NULL,                       -- header event_type, e.g. user.created
  version      text NOT NULL,                       -- header version, e.g. 1.0
  headers      jsonb NOT NULL,                      -- every Kafka header, name -> string
  payload      jsonb NOT NULL,                      -- the record value
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,                         -- null until Kafka acknowledged it
  attempts     integer NOT NULL DEFAULT 0,          -- publish attempts so far
  last_error   text                                 -- why the last attempt failed
);

-- The relay only ever reads unpublished rows in seq order; published rows stay out of the index.
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;

-- Inbox: the messages each consumer group has handled, written in the same transaction as the
-- handler's effects, so a redelivered message is recognised and has no second effect.
CREATE TABLE inbox (
  message_id   uuid NOT NULL,
  consumer     text NOT NULL,                       -- the consumer group id
  type         text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('processed', 'skipped', 'dead_lettered')),
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, consumer)
);

-- Records a consumer gave up on: undecodable records, and messages whose handler kept failing.
CREATE TABLE dead_letters (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  consumer    text NOT NULL,                        -- the consumer group id
  topic       text NOT NULL,
  partition   integer NOT NULL,
  "offset"    bigint NOT NULL,
  message_id  uuid,                                 -- null when the record had no valid one
  type        text,                                 -- header event_type, when present
  key         text,
  headers     jsonb NOT NULL,
  value       text,                                 -- the raw record value, as received
  error       text NOT NULL,
  attempts    integer NOT NULL,                     -- handler attempts (0: never decoded)
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- A record redelivered after it was dead-lettered (offset not yet committed) is recorded once.
  UNIQUE (consumer, topic, partition, "offset")
);

-- Down Migration
DROP TABLE dead_letters;
DROP TABLE inbox;
DROP TABLE outbox;
