"""Audit: who connected to what, when, from where, for how long, and what they typed.

- `events`: CloudTrail records of Session Manager calls, normalised (`AuditEvent`).
- Sources of records: CloudTrail LookupEvents (paced) and trail files in S3.
- `SessionRecord`: one session, joining its events, its DescribeSessions entry and its
  transcript (CloudWatch Logs or S3).

Nothing here imports boto3 at import time; clients are passed in.
"""
