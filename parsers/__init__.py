"""Recognising the season's documents in a roster member's mail: which item, whose, for which unit."""

from parsers.errors import UnreadableDocument
from parsers.meeting_request import find_date, find_meeting_request
from parsers.recognise import recognise

__all__ = ["UnreadableDocument", "find_date", "find_meeting_request", "recognise"]
