-- expect: R1
SELECT COUNT(*) FROM patients WHERE temp.patients.age > 1
