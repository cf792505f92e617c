-- expect: ok
SELECT region, COUNT(*) FROM patients
WHERE patient_id NOT IN (SELECT patient_id FROM medications WHERE code IN VALUESET('beta-blockers'))
GROUP BY region
