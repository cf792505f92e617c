-- expect: ok
SELECT region, COUNT(*) FROM patients
WHERE patient_id IN (SELECT patient_id FROM conditions WHERE code IN VALUESET('diabetes'))
GROUP BY region
