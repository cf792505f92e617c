-- expect: schema
SELECT rowid, COUNT(*) FROM patients GROUP BY rowid
