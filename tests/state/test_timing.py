from notifier.state.timing import timing

NOW = 1_773_059_698.0


def test_upstream_times_win_over_what_polls_saw() -> None:
    item = {"created_at": "2026-03-09T12:34:00Z", "updated_at": "2026-03-09T12:35:30Z",
            "queue_data": {"processing_start_time": "2026-03-09T12:34:20Z"}}
    assert timing(item, now=NOW, queued_seen_at=1.0, generating_seen_at=2.0) == {
        "queued_s": 20.0, "generating_s": 70.0, "total_s": 90.0}


def test_polls_fill_in_and_unknown_is_null() -> None:
    assert timing({}, now=100.0, queued_seen_at=10.0, generating_seen_at=40.0) == {
        "queued_s": 30.0, "generating_s": 60.0, "total_s": 90.0}
    # First seen already final, no upstream times: only nulls.
    assert timing({}, now=100.0, queued_seen_at=None, generating_seen_at=None) == {
        "queued_s": None, "generating_s": None, "total_s": None}
    # created_at but never seen generating: the total only.
    spans = timing({"created_at": "2026-03-09T12:34:00Z"}, now=1_773_059_700.0, queued_seen_at=None,
                   generating_seen_at=None)
    assert spans["queued_s"] is None and spans["generating_s"] is None and spans["total_s"] == 60.0


def test_out_of_order_or_garbage_times_are_null_not_negative() -> None:
    item = {"created_at": "2026-03-09T12:34:00Z", "updated_at": "not a time",
            "queue_data": {"processing_start_time": "2026-03-09T12:33:00Z"}}
    spans = timing(item, now=1_773_059_700.0, queued_seen_at=None, generating_seen_at=None)
    assert spans["queued_s"] is None  # started before it was created: clock skew
    assert spans["total_s"] == 60.0  # garbage updated_at: the poll's time
