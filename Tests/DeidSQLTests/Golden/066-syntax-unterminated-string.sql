-- expect: syntax
SELECT COUNT(*) FROM patients WHERE sex = 'F
