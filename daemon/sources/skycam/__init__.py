"""Source kind ``skycam``: config, slots, source."""
