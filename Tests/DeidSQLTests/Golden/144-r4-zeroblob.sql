-- expect: R4
SELECT COUNT(*) FROM patients WHERE zeroblob(1000000000) IS NOT NULL
