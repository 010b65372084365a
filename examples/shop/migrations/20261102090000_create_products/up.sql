CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0)
);
INSERT INTO products (sku, title, price_cents) VALUES
    ('MUG-1', 'Cairn mug', 1200),
    ('TEE-1', 'Cairn t-shirt', 2500);
