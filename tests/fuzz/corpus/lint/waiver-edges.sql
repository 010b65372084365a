-- cairn:allow
SELECT 1;
-- cairn:allow x
