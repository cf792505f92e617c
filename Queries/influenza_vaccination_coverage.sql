-- name: influenza-vaccination-coverage
-- purpose: Patients vaccinated against seasonal influenza since :season_start, by region and
--          age band (65+ is the group public health tracks most closely).
-- parameters: :season_start date ('2026-09-01')
-- value sets: influenza-vaccine
SELECT p.region,
       CASE WHEN p.age < 18 THEN '0-17' WHEN p.age < 65 THEN '18-64' ELSE '65+' END AS age_band,
       COUNT(DISTINCT i.patient_id) AS vaccinated
FROM patients p
JOIN immunizations i ON i.patient_id = p.patient_id
WHERE i.code IN VALUESET('influenza-vaccine')
  AND i.date >= :season_start
GROUP BY p.region, age_band
ORDER BY p.region, age_band
