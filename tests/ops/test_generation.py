from notifier.ops.generation import MAX_MODELS, labels_of, model_label
from notifier.ops.metrics import metrics, observe_final
from notifier.state.events import build_event
from notifier.upstream.media import VIDEOS
from notifier.upstream.statuses import Status


def test_model_labels_are_bounded() -> None:
    seen: set[str] = set()
    assert model_label("Qwen Image", seen) == "qwen-image"
    assert model_label(None, seen) == "unknown" and model_label("", seen) == "unknown"
    assert model_label("x" * 500, seen) == "x" * 40
    names = {model_label(f"made-up-{n}", seen) for n in range(1000)}
    assert len(seen) == MAX_MODELS and "other" in names and len(names) <= MAX_MODELS + 1
    assert model_label("qwen-image", seen) == "qwen-image"  # one seen before keeps its label


def test_only_events_that_end_an_item_count() -> None:
    video = {"model": "v5"}
    assert labels_of("video.completed", {"final": True, "video": video}) == ("videos", "v5", "completed")
    assert labels_of("image.failed", {"final": True, "image": {}}) == ("images", "unknown", "failed")
    assert labels_of("image.unknown", {"final": True, "image": {}}) == ("images", "unknown", "unknown")
    assert labels_of("image.expired", {"final": False, "image": {}})[2] == "expired"  # type: ignore[index]
    assert labels_of("video.generating", {"final": False, "video": video}) is None
    assert labels_of("video.stalled", {"final": False, "video": video}) is None


def test_a_final_event_is_observed_in_both_metrics() -> None:
    event = build_event(image={"video_id": "v1", "model": "v5"}, account="a@x.com", status=Status("COMPLETED", 1, True),
                        previous=None, now=100.0, medium=VIDEOS,
                        timing={"queued_s": 1.0, "generating_s": 41.0, "total_s": 42.0})
    histogram = metrics().generation.labels("videos", "v5", "completed")
    count_before = sum(s.value for m in histogram.collect() for s in m.samples if s.name.endswith("_count"))
    outcomes_before = metrics().outcomes.labels("videos", "v5", "completed")._value.get()
    observe_final(event)
    count_after = sum(s.value for m in histogram.collect() for s in m.samples if s.name.endswith("_count"))
    assert count_after == count_before + 1
    assert metrics().outcomes.labels("videos", "v5", "completed")._value.get() == outcomes_before + 1
