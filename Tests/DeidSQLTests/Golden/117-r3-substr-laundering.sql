-- expect: R3
SELECT substr(patient_id, 5, 6) AS prefix, COUNT(*) FROM patients GROUP BY prefix
