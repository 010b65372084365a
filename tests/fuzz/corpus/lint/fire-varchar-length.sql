CREATE TABLE n (a varchar(10));
