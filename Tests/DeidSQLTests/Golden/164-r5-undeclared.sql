-- expect: R5
-- params: min_age:int
SELECT COUNT(*) FROM patients WHERE age > :min_age AND sex = :sex
