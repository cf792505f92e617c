-- expect: R3
SELECT COUNT(*) FROM encounters GROUP BY patient_id
