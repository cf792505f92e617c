-- expect: R3
SELECT age / 2 AS a, COUNT(*) FROM patients GROUP BY a
