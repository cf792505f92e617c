-- expect: ok
SELECT zip3, sex, COUNT(*) AS n FROM patients GROUP BY zip3, sex
