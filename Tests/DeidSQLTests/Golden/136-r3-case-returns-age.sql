-- expect: R3
SELECT CASE WHEN age > 89 THEN age ELSE 0 END AS a, COUNT(*) FROM patients GROUP BY a
