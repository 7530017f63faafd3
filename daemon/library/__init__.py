"""The library: where files are filed. ``paths`` renders and sanitises library paths,
``root`` guards the root folder (mounted, writable, free space)."""
