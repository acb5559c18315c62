"""The cache of loaded models: bounded by bytes, least recently used evicted first, leased models kept."""

from __future__ import annotations

import threading
import time

import pytest

from samis.sam.model_cache import ModelCache, take_from_active_cache


class Weights:
    """A stand-in for a loaded model: only its size matters to the cache."""

    def __init__(self, name: str, nbytes: int):
        self.name, self.nbytes = name, nbytes


def _builder(name: str, nbytes: int, built: list):
    def build():
        built.append(name)
        return Weights(name, nbytes)

    return build


def test_least_recently_used_goes_first_and_the_bound_holds():
    cache, built = ModelCache(max_bytes=300), []
    for name in ("a", "b", "c"):
        with cache.lease(name, _builder(name, 100, built)):
            pass
    assert cache.keys() == ["a", "b", "c"] and cache.held_bytes == 300
    with cache.lease("a", _builder("a", 100, built)) as a:  # a is used again: b is now the oldest
        assert a.name == "a"
    with cache.lease("d", _builder("d", 100, built)):
        pass
    assert cache.keys() == ["c", "a", "d"] and cache.held_bytes <= 300
    assert built == ["a", "b", "c", "d"]  # "a" came from the cache, not built twice
    with cache.lease("e", _builder("e", 250, built)):
        pass
    assert cache.keys() == ["e"] and cache.held_bytes == 250


def test_a_model_in_use_is_never_evicted():
    cache, built = ModelCache(max_bytes=150), []
    with cache.lease("big", _builder("big", 100, built)) as big:
        with cache.lease("other", _builder("other", 100, built)):
            assert set(cache.keys()) == {"big", "other"}  # both leased: over the bound, nothing evicted
        assert cache.keys() == ["big"]  # "other" released and over the bound: it goes, the leased one stays
        with cache.lease("third", _builder("third", 100, built)):
            pass
        assert "big" in cache and big.name == "big"
    assert cache.held_bytes <= 150


def test_a_model_larger_than_the_bound_is_kept_only_while_leased():
    cache = ModelCache(max_bytes=10)
    with cache.lease("huge", _builder("huge", 100, [])):
        assert "huge" in cache
    assert len(cache) == 0


def test_using_leases_what_was_taken_until_the_block_ends():
    cache, built = ModelCache(max_bytes=100), []
    with cache.using():
        first = take_from_active_cache("a", _builder("a", 100, built))
        assert take_from_active_cache("a", _builder("a", 100, built)) is first
        take_from_active_cache("b", _builder("b", 100, built))
        assert cache.keys() == ["a", "b"]  # both in use by this block: over the bound, kept
    assert cache.keys() == ["b"] and built == ["a", "b"]
    assert take_from_active_cache("c", _builder("c", 1, built)).name == "c" and "c" not in cache  # none active


def test_threads_asking_for_the_same_model_load_it_once():
    cache, built, results = ModelCache(), [], []

    def slow():
        built.append("m")
        time.sleep(0.05)
        return Weights("m", 10)

    def worker():
        with cache.lease("m", slow) as model:
            results.append(model)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert built == ["m"] and len({id(m) for m in results}) == 1


def test_a_failed_load_holds_nothing():
    cache = ModelCache()

    def broken():
        raise ValueError("no weights")

    with pytest.raises(ValueError):
        with cache.lease("x", broken):
            pass
    assert len(cache) == 0


def test_test_size_models_are_counted_by_their_parameter_bytes():
    """Real test-size models through load_sam: tiny SAM and tiny SAM 2 in a cache that holds only one."""
    from samis.sam.engine import load_sam

    with ModelCache().using() as probe:
        tiny = load_sam("tiny", device="cpu")
        tiny2 = load_sam("tiny-sam2", device="cpu")
    assert probe.held_bytes == tiny.nbytes + tiny2.nbytes
    cache = ModelCache(max_bytes=max(tiny.nbytes, tiny2.nbytes))
    with cache.using():
        load_sam("tiny", device="cpu")
    with cache.using():
        load_sam("tiny-sam2", device="cpu")
    assert cache.keys() == [("tiny-sam2", "None", "cpu")]  # the older one evicted to stay in bounds
