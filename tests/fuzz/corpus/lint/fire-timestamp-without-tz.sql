CREATE TABLE n (a timestamp);
