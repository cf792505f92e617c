-- expect: ok
select /* block */ Sex, count(*) -- trailing
from Patients
group by SEX
