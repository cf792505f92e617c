-- expect: ok
SELECT region, AVG(age) AS mean_age FROM patients GROUP BY region
