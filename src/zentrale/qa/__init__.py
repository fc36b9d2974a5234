"""Quality review of recordings: search, scorecards, evaluations, comments and tags."""
