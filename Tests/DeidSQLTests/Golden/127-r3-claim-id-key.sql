-- expect: R3
SELECT claim_id, SUM(amount) FROM claims GROUP BY claim_id
