CREATE TABLE t (a integer);
CREATE TABLE n (code STRING, at POINT);
CREATE TABLE n (code TEXT, at REAL);
