-- expect: R4
SELECT COUNT(*) FROM patients WHERE soundex(region) = 'N000'
