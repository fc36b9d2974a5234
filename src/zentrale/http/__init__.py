"""The daemon's HTTP side: the app factory and the in-process uvicorn server."""
