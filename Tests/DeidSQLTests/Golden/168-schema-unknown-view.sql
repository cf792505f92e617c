-- expect: schema
SELECT COUNT(*) FROM patient_notes
