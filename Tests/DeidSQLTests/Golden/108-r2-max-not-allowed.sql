-- expect: R2
SELECT MAX(amount) FROM claims
