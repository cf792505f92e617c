-- expect: syntax
SELECT CASE END FROM patients
