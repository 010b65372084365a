CREATE TABLE n (a smallint);
