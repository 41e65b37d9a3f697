"""Real logs into the data-set format, and data sets back out as real database traffic.

    convert_pgaudit(logs, mapping, out)      PostgreSQL pgaudit (csvlog, jsonlog, stderr)
    convert_mariadb(logs, mapping, out, timezone="Europe/London")   MariaDB server_audit
    convert_table(path, columns, out)        any CSV / JSON lines / Parquet export with a column mapping
    replay_dataset(dataset, dsn)             a data set replayed as parameterised SQL against PostgreSQL
"""
