-- expect: ok
SELECT birth_year, COUNT(*) FROM patients GROUP BY birth_year
