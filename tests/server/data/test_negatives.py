import random
from collections import Counter

import pytest

from locvlm.data.negatives import STRATEGIES, NegativeSampler, crowd_categories

VOCABULARY = ("person", "dog", "cup", "laptop", "chair", "bottle", "kite")


@pytest.fixture
def sampler(make_record) -> NegativeSampler:
    """person in 4 images, cup 3, dog 2, laptop 2, chair 1, bottle 1, kite never.

    cup co-occurs with laptop twice and with bottle once; dog only with person.
    """
    records = [
        make_record(1, (100, 100), ("person", (0, 0, 9, 9)), ("dog", (20, 0, 29, 9))),
        make_record(2, (100, 100), ("person", (0, 0, 9, 9)), ("dog", (20, 0, 29, 9))),
        make_record(3, (100, 100), ("cup", (0, 0, 9, 9)), ("laptop", (20, 0, 29, 9))),
        make_record(4, (100, 100), ("cup", (0, 0, 9, 9)), ("laptop", (20, 0, 29, 9)),
                    ("cup", (40, 0, 49, 9))),  # cup twice: one image still
        make_record(5, (100, 100), ("cup", (0, 0, 9, 9)), ("bottle", (20, 0, 29, 9))),
        make_record(6, (100, 100), ("person", (0, 0, 9, 9)), ("chair", (20, 0, 29, 9))),
        make_record(7, (100, 100), ("person", (0, 0, 9, 9))),
    ]  # fmt: skip
    return NegativeSampler.from_records(records, VOCABULARY)


def test_statistics(sampler):
    assert sampler.frequency == {
        "person": 4, "dog": 2, "cup": 3, "laptop": 2, "bottle": 1, "chair": 1,
    }  # fmt: skip
    assert sampler.cooccurrence["cup"] == {"laptop": 2, "bottle": 1}
    assert sampler.cooccurrence["person"] == {"dog": 2, "chair": 1}
    assert sampler.vocabulary == VOCABULARY


def test_vocabulary_defaults_to_the_categories_seen(make_record):
    records = [make_record(1, (50, 50), ("dog", (0, 0, 9, 9)), ("cup", (20, 0, 29, 9)))]
    assert NegativeSampler.from_records(records).vocabulary == ("dog", "cup")


@pytest.mark.parametrize(
    ("strategy", "present", "want"),
    [
        ("random", "cup", "person dog laptop chair bottle kite"),  # every absent one
        ("popular", "cup", "person dog laptop chair bottle kite"),  # by frequency
        ("popular", "person cup", "dog laptop chair bottle kite"),  # ties: vocabulary order
        ("adversarial", "cup", "laptop bottle person dog chair kite"),  # co-occurring first
        ("adversarial", "person", "dog chair cup laptop bottle kite"),  # the other side
        ("adversarial", "", "person cup dog laptop chair bottle kite"),  # none: by frequency
        ("popular", " ".join(VOCABULARY), ""),  # nothing absent
    ],
)
def test_ranking(sampler, strategy, present, want):
    assert sampler.using(strategy).ranked(present.split()) == want.split()


def test_random_is_uniform_over_absent_only(sampler):
    rng = random.Random(0)
    drawn = Counter(c for _ in range(3000) for c in sampler.sample({"cup", "dog"}, 1, rng))
    assert set(drawn) == {"person", "laptop", "chair", "bottle", "kite"}
    assert all(500 < n < 700 for n in drawn.values())  # 600 each


def test_popular_picks_the_most_frequent_absent(sampler):
    rng = random.Random(0)
    popular = sampler.using("popular")
    for _ in range(50):
        assert set(popular.sample({"laptop"}, 2, rng)) <= {"person", "cup", "dog"}  # top 3
    exact = NegativeSampler(sampler.vocabulary, sampler.frequency, strategy="popular", top_k=1)
    assert set(exact.sample({"laptop"}, 2, rng)) == {"person", "cup"}  # POPE: the top n


def test_adversarial_picks_what_co_occurs(sampler):
    adversarial = sampler.using("adversarial")
    assert adversarial.pool({"cup"}) == ["laptop", "bottle", "person"]
    assert set(adversarial.sample({"cup"}, 2, random.Random(1))) <= {"laptop", "bottle", "person"}
    assert adversarial.sample({"dog"}, 1, random.Random(2)) != ["dog"]


@pytest.mark.parametrize(
    ("strategy", "top_k", "n", "size"),
    [
        ("popular", 3, 1, 3),  # the top k
        ("popular", 3, 5, 5),  # more wanted than k: the top n
        ("popular", 1, 2, 2),  # POPE's protocol: k = n
        ("random", 1, 1, 5),  # random ignores k
        ("popular", 10, 1, 5),  # fewer absent than k
    ],
)
def test_pool_size(sampler, strategy, top_k, n, size):
    custom = NegativeSampler(sampler.vocabulary, sampler.frequency, strategy=strategy, top_k=top_k)
    assert len(custom.pool({"cup", "dog"}, n)) == size


def test_sample_is_deterministic_distinct_and_bounded(sampler):
    for strategy in STRATEGIES:
        chosen = sampler.using(strategy)
        first = chosen.sample({"cup"}, 3, random.Random(7))
        assert first == chosen.sample({"cup"}, 3, random.Random(7))
        assert len(set(first)) == len(first) == 3
        assert "cup" not in first
    assert len(sampler.sample(set(VOCABULARY) - {"kite"}, 4, random.Random(0))) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "hard"}, "unknown negatives strategy"),  # not a POPE strategy
        ({"top_k": 0}, "top_k"),  # empty pool
    ],
)
def test_bad_sampler(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NegativeSampler(VOCABULARY, **kwargs)


def test_crowd_categories(coco_tiny):
    assert crowd_categories(coco_tiny) == {632: frozenset({"person"})}
