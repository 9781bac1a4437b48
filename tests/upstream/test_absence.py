from notifier.upstream.absence import PageView, excludes, locate


def view(*created: float, start: bool = False, end: bool = False, ids: tuple[str, ...] = ()) -> PageView:
    return PageView(frozenset(ids or tuple(f"i{c}" for c in created)), tuple(created), start, end)


def test_a_page_with_newer_and_older_items_shows_where_it_would_be() -> None:
    assert excludes(view(200, 150, 50), 100)
    assert excludes(view(200, 100.5, 99, 50), 100)  # items of about its second do not matter between
    assert not excludes(view(200, 150), 100)  # all newer: it may lie on a later page
    assert not excludes(view(90, 50), 100)  # all older: it may lie on an earlier page
    assert excludes(view(90, 50, start=True), 100)  # ...unless this is the top of the list
    assert not excludes(view(100.4, 99.8), 100)  # within a second: order unknown
    assert not excludes(view(200, 50), None)  # no created_at known: nothing to compare
    assert excludes(PageView(frozenset(), (), True, True), None)  # an empty list


def test_locate_bisects_to_the_page_where_it_would_be() -> None:
    # 100 items, one per second, newest first: item at index k created at 1000 - k; pages of 10.
    reads: list[int] = []

    def read(offset: int) -> PageView:
        reads.append(offset)
        return view(*(1000 - k for k in range(offset, min(offset + 10, 100))), start=offset == 0)

    found, used = locate(read, 1000 - 73.5, total=100, page_size=10, budget=10)
    assert found is not None and excludes(found, 1000 - 73.5) and used == len(reads) <= 4
    found, used = locate(read, 1000 - 73.5, total=100, page_size=10, budget=1)
    assert found is None or used == 1


def test_locate_reads_across_a_gap_that_falls_between_two_pages() -> None:
    # Items 5 s apart, but the one at index 20 is gone: the gap is between pages 10-19 and 20-29.
    created = [5000 - 5 * k for k in range(100) if k != 20]

    def read(offset: int) -> PageView:
        return view(*created[offset:offset + 10], start=offset == 0)

    found, used = locate(read, 4900, total=len(created), page_size=10, budget=10)
    assert found is not None and excludes(found, 4900) and used <= 6
