"""Source kind ``slooh``: mirror a Slooh telescope-service account (see ``source.py``)."""
