-- name: hypertension-prevalence
-- purpose: Hypertension prevalence by 10-year age band and region: patients with a hypertension
--          diagnosis beside the population of the same band and region.
-- parameters: none
-- value sets: hypertension
SELECT p.region,
       p.age / 10 * 10 AS age_decade,
       COUNT(DISTINCT c.patient_id) AS with_hypertension,
       COUNT(DISTINCT p.patient_id) AS population
FROM patients p
LEFT JOIN conditions c ON c.patient_id = p.patient_id AND c.code IN VALUESET('hypertension')
WHERE p.deceased = 0
GROUP BY p.region, age_decade
ORDER BY p.region, age_decade
