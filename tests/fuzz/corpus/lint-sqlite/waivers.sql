-- cairn:allow sqlite-add-column x
-- cairn:allow nope y
ALTER TABLE q ADD COLUMN b integer NOT NULL;
-- cairn:allow drop-table pg
DROP TABLE q;
BEGIN;
PRAGMA foreign_keys = OFF;
