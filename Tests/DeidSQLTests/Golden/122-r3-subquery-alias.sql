-- expect: R3
SELECT t.who, COUNT(*) FROM (SELECT patient_id AS who FROM encounters) t GROUP BY t.who
