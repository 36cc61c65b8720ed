"""hrbot: reads the HR inbox, records each season document once, confirms, reminds, tracks."""

__version__ = "0.1.0"
