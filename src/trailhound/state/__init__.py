"""The state file: the only room that opens it and runs statements on it."""
