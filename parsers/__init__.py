"""Recognising the season's documents in a roster member's mail: which item, whose, for which unit.

Each module is imported by name (parsers.recognise, parsers.tally, …): importing the package alone loads
none of them, so a command that reads one tally sheet does not compile every recogniser's patterns.
"""
