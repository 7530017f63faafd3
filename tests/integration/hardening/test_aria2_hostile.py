"""Issue 11 item 12: a file host cannot make aria2c fetch or write what it chooses."""

from __future__ import annotations

import asyncio

from tests.integration.downloads.aria2_harness import aria2_config, file_item, library_files, running

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


async def test_a_503_through_aria2_holds_the_host_for_the_backoff(filesite, tmp_path):
    """Issue 11 item 10: after aria2c reports a 503 for a host, no new download of that host
    starts inside the backoff window (the built-in backend already keeps Retry-After)."""
    site, base = filesite
    names = [f"f{i:02d}.bin" for i in range(12)]
    for name in names:
        site.add(name, 20_000)
    site.unavailable["f00.bin"] = 1
    site.retry_after_s = 2
    cfg = aria2_config(tmp_path)
    cfg = cfg.model_copy(update={"downloads": cfg.downloads.model_copy(
        update={"retry_backoff_s": 2.0, "concurrency": 1})})
    cfg = cfg.model_copy(update={"downloads": cfg.downloads.model_copy(update={
        "aria2": cfg.downloads.aria2.model_copy(update={"max_concurrent_downloads": 1})})})
    async with running(cfg) as run:
        # the busy host's answer reaches the controller before the rest of its downloads
        await run.res.store.add_items("files", [file_item(base, names[0])])
        run.downloader.wake.set()
        for _ in range(300):
            rows = await run.res.store._read("SELECT error_code FROM items")
            if rows[0]["error_code"] is not None:
                break
            await asyncio.sleep(0.05)
        await run.res.store.add_items("files", [file_item(base, n) for n in names[1:]])
        run.downloader.wake.set()
        rows = await run.settle(timeout_s=90)
    assert all(r["status"] in ("downloaded", "processed") for r in rows.values()), rows
    (refused_at,) = [t for t, _n, status in site.times if status == 503]
    inside = [(round(t - refused_at, 2), n) for t, n, _s in site.times if 0 < t - refused_at < 1.8]
    assert inside == [], f"requests inside the backoff window after the 503: {inside}"
    assert len(site.times) == len(names) + 1  # each file once, f00 twice
