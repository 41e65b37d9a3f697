"""What people see: the HTML report (with trainer mode), SIEM (ECS) lines, safe CSV and terminal tables.

    from snoopwatch.report.html import write_html_report
    from snoopwatch.report.ecs import alert_to_ecs
    from snoopwatch.report.terminal import render_people_table
    from snoopwatch.csvsafe import neutralise_csv_frame

Submodules are imported on use so that `snoopwatch detect` does not pay for matplotlib unless it draws.
"""
