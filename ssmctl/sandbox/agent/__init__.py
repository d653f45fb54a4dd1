"""The sandbox's data channel: the ssmmessages service and the SSM agent of every emulated
instance, behind the StreamUrls StartSession hands out (docs/sandbox.md, "The data channel").

- `server`: the WebSocket endpoint (its own thread and loop), tokens, one session per id;
- `session`: one session's life across sockets, its clocks, how it ends;
- `channel`: the agent's reliable channel (settling messages carried over a reconnect);
- `plan`: what a session runs, from its document, parameters and preferences;
- `shell`, `command`, `ports`, `mux`, `relay`, `processes`: the workers and what they use;
- `transcript`, `logs`: session transcripts for CloudWatch Logs and S3.
"""
