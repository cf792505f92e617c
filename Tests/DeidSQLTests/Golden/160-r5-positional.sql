-- expect: R5
SELECT COUNT(*) FROM patients WHERE age > ?
