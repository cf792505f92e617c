-- expect: R3
SELECT age, COUNT(*) FROM patients GROUP BY age
