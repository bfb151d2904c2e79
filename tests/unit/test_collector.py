"""The gateway's cyclic garbage collector: start-up objects frozen, a young threshold above
what requests in flight hold."""

import gc

from gateways.app import tune_collector


def test_tuned_collector_leaves_objects_in_flight_alone():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        tune_collector(50_000)
        assert gc.get_threshold() == (50_000, 10, 10)
        assert gc.get_freeze_count() > 0
        collections = gc.get_stats()[0]["collections"]
        in_flight = [{"request": n} for n in range(10_000)]  # 14 collections at 700
        assert gc.get_stats()[0]["collections"] == collections
        assert len(in_flight) == 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
