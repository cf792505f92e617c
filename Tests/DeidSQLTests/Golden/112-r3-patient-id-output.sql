-- expect: R3
SELECT patient_id, COUNT(*) FROM encounters GROUP BY patient_id
