"""``python -m empatia``: the command line. It is also the file ``spark-submit`` runs, so a
run goes where spark-submit sends it::

    spark-submit --master spark://host:7077 "$(python -c 'import empatia.__main__ as m; print(m.__file__)')" \\
        --db empatia.duckdb run --engine spark
"""

from empatia.cli import main

if __name__ == "__main__":
    main()
