"""The hrbot benchmark (issue 6): a generated season in a real dovecot, read by a floor, a peer and hrbot."""
