"""Configuration: typed settings loaded from YAML and the environment, and logging set-up."""
