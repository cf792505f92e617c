-- expect: ok
SELECT sex, region, COUNT(*) FROM patients GROUP BY 1, 2 ORDER BY 3 DESC
