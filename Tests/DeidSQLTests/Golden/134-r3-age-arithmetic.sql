-- expect: R3
SELECT age + 0 AS a, COUNT(*) FROM patients GROUP BY a
