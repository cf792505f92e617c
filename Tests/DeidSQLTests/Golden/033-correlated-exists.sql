-- expect: ok
SELECT p.sex, COUNT(*) FROM patients p
WHERE EXISTS (SELECT 1 FROM claims c WHERE c.patient_id = p.patient_id AND c.amount > 100000)
GROUP BY p.sex
