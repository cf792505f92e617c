-- expect: ok
SELECT p.region, COUNT(*) AS never_seen FROM patients p LEFT JOIN encounters e ON e.patient_id = p.patient_id
WHERE e.encounter_id IS NULL GROUP BY p.region
