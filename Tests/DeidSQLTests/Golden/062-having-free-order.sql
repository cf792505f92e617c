-- expect: ok
SELECT sex, COUNT(*) AS n FROM patients GROUP BY sex ORDER BY sex ASC
