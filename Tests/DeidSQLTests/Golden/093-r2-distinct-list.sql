-- expect: R2
SELECT DISTINCT region FROM patients
