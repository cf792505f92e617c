-- expect: ok
-- params: min_age:int,max_age:int
SELECT sex, COUNT(*) FROM patients WHERE age BETWEEN :min_age AND :max_age GROUP BY sex
