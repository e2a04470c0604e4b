-- Up Migration
CREATE TABLE accounts (
  user_id       uuid PRIMARY KEY,
  -- Integer cents; the CHECK is the last line of defence against an overdraft.
  balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
  currency      char(3) NOT NULL DEFAULT 'USD',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payments (
  id             uuid PRIMARY KEY,
  -- One payment per order: a repeated authorization finds this row, a declined row is the
  -- remembered "no".
  order_id       uuid NOT NULL UNIQUE,
  -- No foreign key: a payment declined for ACCOUNT_NOT_FOUND names a user without an account.
  user_id        uuid NOT NULL,
  amount_cents   bigint NOT NULL CHECK (amount_cents >= 0),
  status         text NOT NULL CHECK (status IN ('AUTHORIZED', 'DECLINED', 'REFUNDED')),
  decline_code   text CHECK (decline_code IN ('INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND')),
  decline_reason text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT payments_decline_iff_declined CHECK ((status = 'DECLINED') = (decline_code IS NOT NULL AND decline_reason IS NOT NULL))
);

CREATE INDEX payments_user_id_idx ON payments (user_id);

-- Down Migration
DROP TABLE payments;
DROP TABLE accounts;
