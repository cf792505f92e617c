-- expect: ok
-- allow: min-max
SELECT region, MIN(birth_year) AS oldest, MAX(birth_year) AS youngest FROM patients GROUP BY region
