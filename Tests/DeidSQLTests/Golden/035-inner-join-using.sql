-- expect: ok
SELECT e.site, COUNT(*) FROM encounters e JOIN conditions c USING (patient_id) GROUP BY e.site
