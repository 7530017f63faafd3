"""Issue 11 item 12: a file host cannot make aria2c fetch or write what it chooses."""

from __future__ import annotations

from tests.downloads.aria2_harness import aria2_config, file_item, library_files, running

METALINK = """<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="sub/planted.sh">
    <url>{base}files/planted.sh</url>
  </file>
</metalink>
"""


async def test_a_metalink_answer_is_not_followed(filesite, tmp_path):
    site, base = filesite
    site.files["evil.jpg"] = METALINK.format(base=base).encode()
    site.content_types["evil.jpg"] = "application/metalink4+xml"
    site.add("planted.sh", 5000)
    cfg = aria2_config(tmp_path)
    async with running(cfg) as run:
        await run.res.store.add_items("files", [file_item(base, "evil.jpg", "files/evil.jpg")])
        run.downloader.wake.set()
        rows = await run.settle()
    assert site.requests["planted.sh"] == 0
    files = library_files(cfg.library.root)
    assert not [f for f in files if "planted" in f], files
    # what the host sent is not an image: failed as corrupt, nothing at the final path
    assert rows["evil.jpg"]["status"] == "failed" and rows["evil.jpg"]["error_code"] == "corrupt"
    assert "files/evil.jpg" not in files
    assert not [f for f in files if f.startswith(".partial/")], files  # nothing left in staging
