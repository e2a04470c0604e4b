-- Up Migration

-- The product catalog and its stock on hand. Prices are integer cents and come only from here,
-- never from a client.
CREATE TABLE products (
  sku         text PRIMARY KEY,
  name        text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents > 0),
  -- Reservations decrement it under a row lock; the CHECK is the last line of defence against
  -- selling a unit twice.
  stock       integer NOT NULL CHECK (stock >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The demo catalog. SKU-LAPTOP costs more than a new account's starting balance (50000 cents),
-- so ordering it is declined; SKU-LIMITED has 5 units for the concurrency test.
INSERT INTO products (sku, name, price_cents, stock) VALUES
  ('SKU-BOOK', 'Domain-Driven Design (book)', 4999, 100),
  ('SKU-MUG', 'Kafka mug', 1250, 100),
  ('SKU-KEYBOARD', 'Mechanical keyboard', 12900, 50),
  ('SKU-LAPTOP', 'Laptop', 249900, 10),
  ('SKU-LIMITED', 'Limited edition print', 1000, 5);

-- Down Migration
DROP TABLE products;
