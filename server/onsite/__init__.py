"""Posts sent from attendees' phones: the submissions API, photos, abuse limits, the switch."""
