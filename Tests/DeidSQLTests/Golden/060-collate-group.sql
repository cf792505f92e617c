-- expect: ok
SELECT lower(region) COLLATE NOCASE AS r, COUNT(*) FROM patients GROUP BY r
