"""Witnesses (c2sp.org/tlog-witness): the protocol, and ``pouch witness serve``."""
