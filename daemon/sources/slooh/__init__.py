"""Source kind ``slooh`` (telescope-service account mirror): in progress, see issue 6."""
