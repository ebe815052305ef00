import os

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
