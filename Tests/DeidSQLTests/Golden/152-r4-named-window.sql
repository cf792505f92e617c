-- expect: R4
SELECT region, COUNT(*) FROM patients GROUP BY region WINDOW w AS (ORDER BY region)
