"""Downloaders (built-in aiohttp; aria2c to come) and the library layout."""
