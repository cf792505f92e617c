-- expect: R3
SELECT CAST(patient_id AS TEXT) AS p, COUNT(*) FROM patients GROUP BY p
