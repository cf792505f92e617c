-- expect: R2
SELECT t.sex, COUNT(*) FROM (SELECT sex FROM patients) t GROUP BY t.sex
