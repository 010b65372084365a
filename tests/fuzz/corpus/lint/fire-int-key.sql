CREATE TABLE n (a int);
