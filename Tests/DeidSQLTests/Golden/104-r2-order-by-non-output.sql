-- expect: R2
SELECT region, COUNT(*) FROM patients GROUP BY region ORDER BY zip3
