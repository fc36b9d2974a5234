"""Object storage for encrypted recordings: one small streaming interface, several backends.

`base` defines `ObjectStore` and the errors every backend raises; `local` keeps objects on a
filesystem with atomic writes, `s3` in S3 or an S3-compatible store, and `memory` in a dict
for tests. Backends are synchronous and stream in chunks; async callers run them in a thread.
"""
