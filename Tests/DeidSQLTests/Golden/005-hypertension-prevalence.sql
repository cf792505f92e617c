-- expect: ok
SELECT p.region, p.age / 10 * 10 AS decade, COUNT(DISTINCT c.patient_id) AS with_htn, COUNT(DISTINCT p.patient_id) AS population
FROM patients p LEFT JOIN conditions c ON c.patient_id = p.patient_id AND c.code IN VALUESET('hypertension')
GROUP BY p.region, decade
