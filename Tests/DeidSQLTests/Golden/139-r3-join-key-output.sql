-- expect: R3
SELECT e.patient_id, COUNT(*) FROM encounters e JOIN patients p ON p.patient_id = e.patient_id GROUP BY 1
