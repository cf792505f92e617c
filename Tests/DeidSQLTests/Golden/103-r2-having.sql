-- expect: R2
SELECT region, COUNT(*) AS n FROM patients GROUP BY region HAVING COUNT(*) > 100
