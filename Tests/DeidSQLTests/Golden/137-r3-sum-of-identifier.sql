-- expect: R3
SELECT sex, SUM(length(patient_id)) FROM patients GROUP BY sex
