"""Pouch: the correspondence and call desk where no message can be silently withheld."""
