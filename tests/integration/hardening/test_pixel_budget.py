"""Issue 11 item 2: the pixel budget is checked on the header, whatever the image's layout."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from daemon.images import ImageTooLarge, check_pixels, header_size, set_max_pixels, verify_upload


@pytest.fixture
def small_budget():
    set_max_pixels(1_000_000)
    yield
    set_max_pixels(64_000_000)


def test_a_stack_of_pages_counts_every_page(tmp_path, small_budget):
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.zeros((20, 300, 300), dtype=np.uint8))  # 20 pages of 0.09 MP
    width, height = header_size(stack)
    assert width * height == 20 * 300 * 300
    with pytest.raises(ImageTooLarge, match="million pixels"):
        verify_upload(stack)


def test_bands_are_not_pixels(tmp_path, small_budget):
    bands = tmp_path / "bands.tif"
    tifffile.imwrite(bands, np.zeros((5, 400, 400), dtype=np.uint16), photometric="minisblack",
                     planarconfig="separate")  # 5 bands of 0.16 MP: within the budget
    assert header_size(bands) == (400, 400)
    assert check_pixels(bands) == (400, 400)
