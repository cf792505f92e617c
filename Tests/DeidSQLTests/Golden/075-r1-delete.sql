-- expect: R1
DELETE FROM patients
