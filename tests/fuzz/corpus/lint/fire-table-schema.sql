CREATE TABLE n (a text);
