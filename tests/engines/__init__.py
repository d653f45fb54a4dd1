"""Tests of ssmctl.engines (the official plugin runner)."""
