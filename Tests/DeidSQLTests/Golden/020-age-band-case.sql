-- expect: ok
SELECT CASE WHEN age < 18 THEN '0-17' WHEN age < 45 THEN '18-44' WHEN age < 65 THEN '45-64' ELSE '65+' END AS band, COUNT(*) AS n
FROM patients GROUP BY band
