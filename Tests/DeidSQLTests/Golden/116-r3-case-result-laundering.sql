-- expect: R3
SELECT CASE WHEN age > 50 THEN patient_id ELSE 'x' END AS who, COUNT(*) FROM patients GROUP BY who
