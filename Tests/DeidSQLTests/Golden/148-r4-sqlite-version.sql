-- expect: R4
SELECT sqlite_version(), COUNT(*) FROM patients
