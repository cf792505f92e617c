-- expect: ok
SELECT p.sex, COUNT(*) FROM patients p, encounters e WHERE e.patient_id = p.patient_id GROUP BY p.sex
