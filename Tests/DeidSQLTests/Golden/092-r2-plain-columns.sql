-- expect: R2
SELECT sex, region FROM patients
