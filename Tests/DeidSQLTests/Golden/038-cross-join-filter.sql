-- expect: ok
SELECT p.sex, COUNT(*) FROM patients p CROSS JOIN claims c WHERE c.patient_id = p.patient_id GROUP BY p.sex
