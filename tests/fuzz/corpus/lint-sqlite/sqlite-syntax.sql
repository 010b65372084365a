CREATE TABLE t (a integer);
SELEC a FROM t;
SELECT a FROM t;
