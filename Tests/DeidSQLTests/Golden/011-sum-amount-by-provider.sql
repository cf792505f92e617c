-- expect: ok
SELECT provider, SUM(amount) AS billed FROM claims GROUP BY provider
