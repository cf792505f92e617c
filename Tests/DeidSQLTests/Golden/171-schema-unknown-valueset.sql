-- expect: schema
SELECT COUNT(*) FROM conditions WHERE code IN VALUESET('gout')
