-- expect: R2
SELECT region, COUNT(CASE WHEN sex = 'F' THEN 1 END) FROM patients GROUP BY region
