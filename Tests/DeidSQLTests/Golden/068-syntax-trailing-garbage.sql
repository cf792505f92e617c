-- expect: syntax
SELECT COUNT(*) FROM patients garbage more
