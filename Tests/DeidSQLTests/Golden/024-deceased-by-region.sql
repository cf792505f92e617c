-- expect: ok
SELECT region, deceased, COUNT(*) FROM patients GROUP BY region, deceased
