-- expect: R4
SELECT COUNT(*) FROM patients WHERE random() > 0
