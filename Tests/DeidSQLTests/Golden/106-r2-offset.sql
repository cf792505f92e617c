-- expect: R2
SELECT region, COUNT(*) FROM patients GROUP BY region LIMIT 5 OFFSET 5
