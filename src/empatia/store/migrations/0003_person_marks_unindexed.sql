-- person_marks without its primary key: DuckDB keeps a key's index (ART) in memory, and this
-- table holds a row per person and incremental stage — on a 100k world the index grew the
-- memory of the process that runs the stages (a Spark driver included) by ≈ 100 MB. Rows are
-- only ever replaced whole per stage and person (delete, then insert, in one transaction).
create table _person_marks (
    stage     varchar not null,
    person_id varchar not null,
    mark      ubigint not null
);
insert into _person_marks select stage, person_id, mark from person_marks;
drop table person_marks;
alter table _person_marks rename to person_marks;
