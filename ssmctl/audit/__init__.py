"""Audit: who connected to what, when, from where, for how long, and what they typed.

- `events`: CloudTrail records of Session Manager calls, normalised (`AuditEvent`).
- `query`: the time range and filters, and which LookupEvents attribute to send.
- `pacing`: the shared 2-calls-per-second pace and retries that never skip a page.
- `lookup`: events from CloudTrail LookupEvents, oldest first, several regions at once.
- `trail_files`: events from CloudTrail trail files in S3 (beyond 90 days, organizations).
- `spill`: sorting in bounded memory (temporary files) and merging concurrent streams.
- `history`: DescribeSessions entries; `join`: one `SessionRecord` per session, and how
  it ended; `names`: target names in bulk; `enrich`: names and transcripts for records.
- `transcripts`: where a transcript is; `transcript_read`: reading, following, replaying.
- `export`: atomic, private, resumable export files.

Nothing here imports boto3 at import time or writes to a terminal; clients are passed in.
docs/audit.md describes the behaviour.
"""
