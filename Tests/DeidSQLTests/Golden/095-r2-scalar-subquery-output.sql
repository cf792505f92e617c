-- expect: R2
SELECT region, (SELECT COUNT(*) FROM patients WHERE zip3 = '021') FROM patients GROUP BY region
