"""Source kinds, one folder each (``config.py`` + ``source.py``); ``registry`` maps each
``kind`` to its config model and source class; ``base`` is what every kind provides."""
