-- expect: R4
SELECT region, COUNT(*) OVER (PARTITION BY region) FROM patients
