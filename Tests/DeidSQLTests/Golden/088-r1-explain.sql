-- expect: R1
EXPLAIN SELECT COUNT(*) FROM patients
