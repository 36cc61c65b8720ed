"""Mail going out: composed into the outbox (confirmations come from the intake), reminders, kickoff, the daily summary, and the senders."""
