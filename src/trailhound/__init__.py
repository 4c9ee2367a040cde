"""trailhound: find attacks on Amazon DynamoDB in AWS CloudTrail logs."""

__version__ = "0.1.0"
