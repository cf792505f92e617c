-- expect: syntax
SELECT COUNT(*) FROM patients WHERE age # 3
