-- expect: R1
SELECT COUNT(*) FROM main.patients
