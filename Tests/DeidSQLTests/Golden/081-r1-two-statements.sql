-- expect: R1
SELECT COUNT(*) FROM patients; SELECT COUNT(*) FROM claims
