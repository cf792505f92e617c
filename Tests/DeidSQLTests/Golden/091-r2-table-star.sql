-- expect: R2
SELECT p.* FROM patients p
