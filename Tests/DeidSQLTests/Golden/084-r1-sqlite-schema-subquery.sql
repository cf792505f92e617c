-- expect: R1
SELECT COUNT(*) FROM patients WHERE sex IN (SELECT name FROM sqlite_schema)
