-- expect: ok
SELECT COUNT(*) FROM conditions WHERE code NOT IN VALUESET('hypertension')
