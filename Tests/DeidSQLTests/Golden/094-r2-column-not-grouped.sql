-- expect: R2
SELECT sex, region, COUNT(*) FROM patients GROUP BY sex
