-- expect: R4
SELECT COUNT(*) FROM patients WHERE length(randomblob(1000000000)) > 0
