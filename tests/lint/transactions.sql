CREATE INDEX CONCURRENTLY orders_created_idx ON orders (created_at);
BEGIN;
ALTER TABLE orders ADD COLUMN note text;
COMMIT;
BEGIN;
SELECT 1;
