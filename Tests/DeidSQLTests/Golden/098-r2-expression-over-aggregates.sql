-- expect: R2
SELECT region, COUNT(*) * 100 / 7 AS pct FROM patients GROUP BY region
