"""The hashwall web app, ingesters and command line."""
