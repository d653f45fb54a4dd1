"""Ways of carrying a started Session Manager session to the user.

- `plugin` runs the official `session-manager-plugin` (discovery in `discovery`, version
  gating in `versions`, the command-line contract in `handoff`, the byte relay between
  the user's terminal and the plugin in `relay`, `terminal` and `signals`).

This package imports nothing at import time: `ssmctl --version` must not pay for it.
"""
