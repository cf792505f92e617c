-- expect: R3
SELECT instr(patient_id, 'a') AS p, COUNT(*) FROM patients GROUP BY p
