-- expect: schema
SELECT COUNT(*) FROM consents WHERE status = 'active'
