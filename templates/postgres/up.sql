-- {{name}}: apply ({{version}}) on PostgreSQL
-- Runs in one transaction with its bookkeeping row. Statements that cannot
-- run in a transaction (CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE
-- on old servers) need transaction: false in migration.yaml.
-- Keep locks short: SET lock_timeout is applied from migration.yaml.

