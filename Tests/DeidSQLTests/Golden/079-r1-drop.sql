-- expect: R1
DROP TABLE patients
