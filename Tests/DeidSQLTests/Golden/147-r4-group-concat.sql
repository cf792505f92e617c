-- expect: R4
SELECT region, group_concat(patient_id) FROM patients GROUP BY region
