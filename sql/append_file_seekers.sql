-- append_file_seekers: a later batch of validated seekers of the same input file (each row with its batch number)
insert into file_seekers
select *
from batch_seekers
