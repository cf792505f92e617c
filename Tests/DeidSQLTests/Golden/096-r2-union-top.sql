-- expect: R2
SELECT COUNT(*) FROM patients UNION SELECT COUNT(*) FROM claims
