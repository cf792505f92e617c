-- expect: R4
SELECT COUNT(*) FROM json_each('[1,2,3]')
