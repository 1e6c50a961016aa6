"""Call reports: the record of a call after it ends (``GET /api/calls/<CallSid>/report``), settled once the
post-call results are in, kept ``CINTEL_REPORT_TTL`` and delivered to the customer's systems.

:mod:`.builder` builds a report from a call's log and snapshot (pure, one function per section);
:mod:`.settle` decides when a call is settled, stores the report and queues its deliveries;
:mod:`.views` serves it. The contract is docs/reports.md.
"""
