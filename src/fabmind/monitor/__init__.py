"""Real-time monitoring: streaming scores per chamber, alarms with an ISA-18.2-style life cycle, verdicts.

* :class:`~fabmind.monitor.service.Monitor` — messages in -> stored, scored, alarmed, acknowledged;
* :mod:`~fabmind.monitor.scoring` — EWMA / CUSUM charts per chamber (the FDC family's models);
* :mod:`~fabmind.monitor.alarms` — dedup, re-alarm, acknowledge, shelve, flood suppression, priority;
* :mod:`~fabmind.monitor.repository` — persistence, engineers' verdicts for retraining;
* :mod:`~fabmind.monitor.runner` — the service function behind ``fabmind monitor``.
"""
