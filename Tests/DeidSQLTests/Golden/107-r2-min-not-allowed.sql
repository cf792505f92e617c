-- expect: R2
SELECT region, MIN(birth_year) FROM patients GROUP BY region
