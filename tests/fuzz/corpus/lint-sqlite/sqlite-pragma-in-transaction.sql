CREATE TABLE t (a integer);
PRAGMA foreign_keys = OFF;
PRAGMA foreign_key_check;
