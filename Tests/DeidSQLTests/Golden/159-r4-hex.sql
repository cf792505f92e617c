-- expect: R4
SELECT hex(region), COUNT(*) FROM patients GROUP BY 1
