-- CREATE INDEX, DROP INDEX and REINDEX without CONCURRENTLY
CREATE INDEX orders_customer_idx ON orders (customer_id);
DROP INDEX orders_old_idx;
REINDEX INDEX orders_customer_idx;
ALTER TABLE events DETACH PARTITION events_2024;
