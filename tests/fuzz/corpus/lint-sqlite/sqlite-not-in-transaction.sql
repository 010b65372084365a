CREATE TABLE t (a integer);
PRAGMA journal_mode = WAL;
PRAGMA user_version = 2;
