-- expect: ok
SELECT age >= 65 AS senior, COUNT(*) FROM patients GROUP BY senior
