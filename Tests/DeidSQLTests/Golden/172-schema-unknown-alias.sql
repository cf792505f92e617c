-- expect: schema
SELECT COUNT(*) FROM patients p WHERE q.age > 3
