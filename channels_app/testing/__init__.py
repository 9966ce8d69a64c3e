"""Loopback stand-ins of the outside services the channels talk to, for tests and demos."""
