"""Recording: the pipeline that transcodes, encrypts and stores every recorded call."""
