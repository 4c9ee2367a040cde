"""The fuzzing suite of issue 11: hostile and broken CloudTrail through normalize and scan."""
