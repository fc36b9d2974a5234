"""The QA web pages: server-rendered Jinja2 templates with htmx and wavesurfer.js."""
