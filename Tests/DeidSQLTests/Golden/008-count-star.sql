-- expect: ok
SELECT COUNT(*) FROM patients
