-- {{name}}: apply ({{version}}) on SQLite
-- Runs in one transaction with its bookkeeping row. SQLite's ALTER TABLE is
-- limited: to change a column, create a new table, copy, drop, rename.

