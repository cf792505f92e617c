-- expect: R2
SELECT * FROM patients
