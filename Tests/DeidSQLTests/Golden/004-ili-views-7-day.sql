-- expect: ok
SELECT e.region, e.service_date AS day, COUNT(DISTINCT e.patient_id) AS ili_patients
FROM encounters e JOIN conditions c ON c.encounter_id = e.encounter_id
WHERE c.code IN VALUESET('influenza-like-illness')
  AND e.service_date > date('now', '-7 days')
GROUP BY e.region, day
ORDER BY day, e.region
