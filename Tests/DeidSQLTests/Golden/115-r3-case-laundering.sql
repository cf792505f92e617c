-- expect: R3
SELECT CASE WHEN patient_id = 'PAT-00000000000000000001' THEN 'target' ELSE 'other' END AS who, COUNT(*) FROM patients GROUP BY who
