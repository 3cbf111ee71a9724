-- stage_file_seekers: the first batch of validated seekers of one input file (each row with its batch number)
create or replace temp table file_seekers as
select *
from batch_seekers
