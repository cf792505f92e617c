-- expect: ok
SELECT provider, SUM(amount / 100) AS dollars FROM claims GROUP BY provider
