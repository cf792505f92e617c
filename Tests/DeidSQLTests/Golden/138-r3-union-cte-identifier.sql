-- expect: R3
WITH ids AS (SELECT patient_id AS x FROM patients UNION SELECT 'y')
SELECT x, COUNT(*) FROM ids GROUP BY x
