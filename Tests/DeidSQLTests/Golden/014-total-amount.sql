-- expect: ok
SELECT TOTAL(amount) AS total FROM claims
