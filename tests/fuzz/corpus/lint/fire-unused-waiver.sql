-- cairn:allow drop-table unused
SELECT 1;
