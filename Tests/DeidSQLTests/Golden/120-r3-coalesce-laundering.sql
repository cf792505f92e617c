-- expect: R3
SELECT coalesce(patient_id, 'none') AS p, COUNT(*) FROM patients GROUP BY p
