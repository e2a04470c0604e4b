-- Up Migration

CREATE TABLE orders (
  id          uuid PRIMARY KEY,
  user_id     uuid NOT NULL,
  status      text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
  total_cents integer NOT NULL CHECK (total_cents > 0),
  -- The PlaceOrder saga that decides this order (saga_instances.id).
  saga_id     uuid NOT NULL UNIQUE,
  reason_code text,
  reason      text,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  CONSTRAINT orders_reason_iff_rejected CHECK ((status = 'REJECTED') = (reason_code IS NOT NULL AND reason IS NOT NULL))
);

CREATE INDEX orders_user_id_idx ON orders (user_id, created_at DESC);

CREATE TABLE order_items (
  order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  sku              text NOT NULL REFERENCES products (sku),
  quantity         integer NOT NULL CHECK (quantity > 0),
  -- The catalog price when the order was placed.
  unit_price_cents integer NOT NULL CHECK (unit_price_cents > 0),
  PRIMARY KEY (order_id, sku)
);

-- What each order holds of the stock: written with the stock decrement, so a release gives back
-- exactly what was taken, once.
CREATE TABLE reservations (
  order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  sku         text NOT NULL REFERENCES products (sku),
  quantity    integer NOT NULL CHECK (quantity > 0),
  status      text NOT NULL CHECK (status IN ('RESERVED', 'RELEASED')),
  reserved_at timestamptz NOT NULL,
  released_at timestamptz,
  PRIMARY KEY (order_id, sku)
);

-- Down Migration
DROP TABLE reservations;
DROP TABLE order_items;
DROP TABLE orders;
