-- expect: R2
SELECT region, ROUND(AVG(amount), 1) FROM claims c JOIN patients p USING (patient_id) GROUP BY region
