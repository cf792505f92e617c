-- expect: ok
SELECT drug_class, COUNT(DISTINCT patient_id) AS users FROM medications GROUP BY drug_class
