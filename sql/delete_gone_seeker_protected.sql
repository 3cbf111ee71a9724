-- delete_gone_seeker_protected: the protected attributes of the gone seekers (staged_gone)
delete from seeker_protected
where seeker_id in (select seeker_id from staged_gone)
