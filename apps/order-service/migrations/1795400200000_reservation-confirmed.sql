-- Up Migration

-- A reservation is the PlaceOrder saga's semantic lock on stock: RESERVED (pending) while the
-- saga runs, then CONFIRMED when the order is approved (the pivot) or RELEASED when it is
-- rejected. Pending units are out of stock for every other saga, so none sells them twice.
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check CHECK (status IN ('RESERVED', 'CONFIRMED', 'RELEASED'));
ALTER TABLE reservations ADD COLUMN confirmed_at timestamptz;

-- Down Migration
UPDATE reservations SET status = 'RESERVED' WHERE status = 'CONFIRMED';
ALTER TABLE reservations DROP COLUMN confirmed_at;
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check CHECK (status IN ('RESERVED', 'RELEASED'));
