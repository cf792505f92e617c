-- expect: schema
SELECT ssn, COUNT(*) FROM patients GROUP BY ssn
