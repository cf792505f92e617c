-- expect: R4
SELECT COUNT(*) FROM patients WHERE printf('%999999999d', 1) <> ''
