-- expect: ok
SELECT sex, COUNT(*) FROM patients WHERE birth_year BETWEEN 1950 AND 1960 AND region IN ('north', 'south') GROUP BY sex
