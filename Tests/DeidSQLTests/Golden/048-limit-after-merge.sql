-- expect: ok
SELECT region, COUNT(*) AS n FROM patients GROUP BY region ORDER BY n DESC LIMIT 5
