-- expect: R4
SELECT COUNT(*) FROM conditions WHERE code IN hypertension_codes
