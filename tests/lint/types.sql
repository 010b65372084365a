CREATE TABLE tags (
    id serial PRIMARY KEY,
    label varchar(40),
    code char(2),
    rank smallint,
    created timestamp
);
CREATE DOMAIN positive_int AS bigint CHECK (VALUE > 0);
ALTER DOMAIN positive_int ADD CONSTRAINT below_max CHECK (VALUE < 1000000);
ALTER TYPE mood ADD VALUE 'curious';
CREATE INDEX a_very_long_index_name_that_goes_on_and_on_past_the_limit_of_postgres ON tags (label);
