-- expect: R4
SELECT COUNT(*) FROM conditions WHERE code REGEXP '^I1'
