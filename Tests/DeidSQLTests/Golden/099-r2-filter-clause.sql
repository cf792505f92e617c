-- expect: R2
SELECT region, COUNT(*) FILTER (WHERE age > 90) FROM patients GROUP BY region
