-- expect: ok
SELECT region FROM patients GROUP BY region
