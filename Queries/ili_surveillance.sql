-- name: ili-surveillance
-- purpose: Public health's daily influenza-like-illness counts by region over the last 7 days
--          (the seed's ILI query, written over the typed views).
-- parameters: none (the evaluation time is pinned by the coordinator)
-- value sets: influenza-like-illness
SELECT e.region,
       e.service_date AS day,
       COUNT(DISTINCT e.patient_id) AS ili_patients,
       COUNT(*) AS ili_encounters
FROM encounters e
JOIN conditions c ON c.encounter_id = e.encounter_id
WHERE c.code IN VALUESET('influenza-like-illness')
  AND e.service_date > date('now', '-7 days')
  AND e.service_date <= date('now')
GROUP BY e.region, day
ORDER BY day DESC, e.region
