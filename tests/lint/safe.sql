-- what the rules ask for: nothing here is reported
SET lock_timeout = '2s';
SET statement_timeout = '5min';
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0) NOT VALID;
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE USING INDEX customers_email_idx;
ALTER TABLE users ADD COLUMN created timestamptz DEFAULT now();
ALTER TABLE users ADD COLUMN score bigint NOT NULL DEFAULT 0;
ALTER TYPE mood ADD VALUE 'curious' AFTER 'happy';
CREATE TABLE public.labels (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, at timestamptz);
