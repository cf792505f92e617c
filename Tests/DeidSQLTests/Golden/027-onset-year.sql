-- expect: ok
SELECT substr(onset_date, 1, 4) AS year, COUNT(*) FROM conditions GROUP BY year
