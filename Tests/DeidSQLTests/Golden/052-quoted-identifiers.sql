-- expect: ok
SELECT "sex", [region], `zip3`, COUNT(*) FROM "patients" GROUP BY "sex", [region], `zip3`
