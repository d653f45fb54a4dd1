"""Run Command across many instances: plan the SendCommand calls, send them, watch the
invocations, and report one result per instance as each completes.

`options` validates what the user asked for, `plan` turns resolved instances into
SendCommand batches (by platform, at most 50 ids each, or one `Targets` call), `watch`
sends and polls (through `calls`, which waits out throttling), `results` holds the
per-instance outcomes and the summary.
"""
