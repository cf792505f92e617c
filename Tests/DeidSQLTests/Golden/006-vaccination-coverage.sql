-- expect: ok
SELECT p.zip3, COUNT(DISTINCT i.patient_id) AS vaccinated
FROM patients p JOIN immunizations i ON i.patient_id = p.patient_id
WHERE i.code IN VALUESET('influenza-vaccine') AND i.date >= date('now', 'start of year')
GROUP BY p.zip3
