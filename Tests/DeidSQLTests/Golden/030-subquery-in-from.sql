-- expect: ok
SELECT t.sex, COUNT(*) AS n
FROM (SELECT patient_id, sex FROM patients WHERE deceased = 0) AS t
GROUP BY t.sex
