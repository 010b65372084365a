CREATE TABLE n (a char(3));
