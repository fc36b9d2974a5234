"""Post-call and outbound surveys: definitions, answers and outbound campaigns."""
