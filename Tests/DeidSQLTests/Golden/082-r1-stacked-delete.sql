-- expect: R1
SELECT COUNT(*) FROM patients; DELETE FROM patients
