"""Errors a person can act on: each carries one line that says what is wrong and what to do."""


class HearthError(Exception):
    """An error with a message meant for the person running Hearth (printed without a traceback)."""


class ConfigError(HearthError):
    """The configuration is invalid; the message names the key, the value and what is allowed."""


class InfluxError(HearthError):
    """InfluxDB refused or could not be reached."""


class StackError(HearthError):
    """A local server (InfluxDB, Mosquitto) could not be started or stopped."""
