"""Intake: the steps a delivered message goes through, starting with decode."""
