-- expect: ok
WITH RECURSIVE years(y) AS (SELECT 2020 UNION ALL SELECT y + 1 FROM years WHERE y < 2025)
SELECT strftime('%Y', e.service_date) AS year, COUNT(*) FROM encounters e
WHERE CAST(strftime('%Y', e.service_date) AS INTEGER) IN (SELECT y FROM years) GROUP BY year
