-- expect: ok
SELECT COUNT(*) FROM conditions WHERE code LIKE 'E11%' OR code GLOB 'I1[0-6]*'
