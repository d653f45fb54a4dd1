"""ssmctl: reach, list, end and audit AWS Session Manager sessions from one place.

This module stays import-free: `ssmctl --version` must not pay for anything.
"""

__version__ = "0.1.0"
