CREATE TABLEE n (a text);
