-- expect: R1
PRAGMA table_info(patients)
