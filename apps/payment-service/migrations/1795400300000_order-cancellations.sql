-- Up Migration

-- Orders whose payment was cancelled (refunded) before any authorization arrived: a refund that
-- overtakes its authorize command (the saga gave up waiting, the authorize was dead-lettered and
-- replayed later) is remembered, so the late authorize is declined instead of debiting for an
-- order that was already rejected.
CREATE TABLE order_cancellations (
  order_id     uuid PRIMARY KEY,
  reason       text NOT NULL,
  cancelled_at timestamptz NOT NULL
);

ALTER TABLE payments DROP CONSTRAINT payments_decline_code_check;
ALTER TABLE payments ADD CONSTRAINT payments_decline_code_check CHECK (decline_code IN ('INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND', 'ORDER_CANCELLED'));

-- Down Migration
DELETE FROM payments WHERE decline_code = 'ORDER_CANCELLED';
ALTER TABLE payments DROP CONSTRAINT payments_decline_code_check;
ALTER TABLE payments ADD CONSTRAINT payments_decline_code_check CHECK (decline_code IN ('INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND'));
DROP TABLE order_cancellations;
