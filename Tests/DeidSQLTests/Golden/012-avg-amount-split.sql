-- expect: ok
SELECT provider, AVG(amount) AS mean_claim, COUNT(*) AS claims FROM claims GROUP BY provider
