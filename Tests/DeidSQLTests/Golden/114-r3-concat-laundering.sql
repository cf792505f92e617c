-- expect: R3
SELECT patient_id || '' AS p, COUNT(*) FROM patients GROUP BY p
