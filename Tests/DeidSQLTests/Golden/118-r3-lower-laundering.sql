-- expect: R3
SELECT lower(patient_id) AS p, COUNT(*) FROM patients GROUP BY 1
