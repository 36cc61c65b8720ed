"""The season: the expected items, the roster, China's working days, deadlines and states, and HR's adjustments."""
