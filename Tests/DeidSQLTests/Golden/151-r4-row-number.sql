-- expect: R4
SELECT row_number() OVER (ORDER BY age) FROM patients
