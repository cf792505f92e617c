-- expect: R2
SELECT region, SUM(CASE WHEN age > 95 THEN 1 ELSE 0 END) AS very_old FROM patients GROUP BY region
