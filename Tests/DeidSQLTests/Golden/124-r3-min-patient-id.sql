-- expect: R3
-- allow: min-max
SELECT sex, MIN(patient_id) FROM patients GROUP BY sex
