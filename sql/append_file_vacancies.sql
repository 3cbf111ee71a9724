-- append_file_vacancies: a later batch of validated vacancies of the same input file (each row with its batch number)
insert into file_vacancies
select *
from batch_vacancies
