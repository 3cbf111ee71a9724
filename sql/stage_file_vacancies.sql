-- stage_file_vacancies: the first batch of validated vacancies of one input file (each row with its batch number)
create or replace temp table file_vacancies as
select *
from batch_vacancies
