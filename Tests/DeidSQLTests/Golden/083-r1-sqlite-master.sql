-- expect: R1
SELECT COUNT(*) FROM sqlite_master
