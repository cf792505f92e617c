-- expect: R2
SELECT region, SUM(iif(deceased, 1, 0)) FROM patients GROUP BY region
