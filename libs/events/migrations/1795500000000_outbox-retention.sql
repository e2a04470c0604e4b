-- Up Migration

-- Published outbox rows are kept for a while (debugging, "when was it sent") and then pruned by
-- the relay (`OutboxRelay` option `retentionMs`); this index finds the oldest published rows
-- without scanning the table.
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Down Migration
DROP INDEX outbox_published_idx;
