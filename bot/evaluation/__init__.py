"""The evaluation after the meetings: ballots, tally sheets, returned tallies and the results."""
