ALTER TABLE t ADD COLUMN b uuid DEFAULT gen_random_uuid();
