CREATE TABLE n (id bigserial);
