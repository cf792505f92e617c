-- expect: ok
SELECT sex, COUNT(*) FROM patients
WHERE age > (SELECT AVG(age) FROM patients) GROUP BY sex
