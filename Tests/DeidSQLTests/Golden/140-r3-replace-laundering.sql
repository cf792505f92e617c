-- expect: R3
SELECT replace(patient_id, 'PAT-', '') AS p, COUNT(*) FROM patients GROUP BY p
