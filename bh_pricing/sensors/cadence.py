"""How often the sensors tick.

The Dagster daemon evaluates sensors in a loop that starts a pass every 5 s
(``MIN_INTERVAL_LOOP_TIME`` in ``dagster._daemon.sensor``) and skips a sensor whose last tick
*started* less than its ``minimum_interval_seconds`` ago. A tick starts a moment after its pass
does, so a 5 s minimum skips every other pass and the sensor ticks every 10 s.
``EVERY_DAEMON_PASS`` is below the loop's period: the sensor ticks on every pass, every 5 s.
"""

EVERY_DAEMON_PASS = 1
