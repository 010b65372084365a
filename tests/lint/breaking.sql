ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE accounts RENAME TO customer_accounts;
ALTER TABLE users DROP COLUMN legacy_flag;
DROP TABLE audit_old;
TRUNCATE sessions CASCADE;
DROP DATABASE scratch;
