"""Configuration: the structured schema, its validation and hash, and where the project lives."""
