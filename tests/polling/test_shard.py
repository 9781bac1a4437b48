"""Which poller owns an account: one live owner each, an even spread, and only a leaver's or joiner's share moves."""

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from notifier.polling.shard import Share, live_pollers, owned_by, owner

# Poller ids are host:pid:random; accounts are emails (plain strings to the hash, so cheap ones do).
poller_ids = st.text("abcxyz:0123é", min_size=1, max_size=10)
pollers = st.lists(poller_ids, min_size=1, max_size=5, unique=True)
accounts = st.lists(st.integers(0, 10**6).map(lambda n: f"user{n}@example.com"), min_size=1, max_size=20,
                    unique=True)


def test_live_pollers_are_those_heard_of_within_the_ttl() -> None:
    beats = {"a": 100.0, "b": 95.1, "c": 95.0, "d": 101.0}
    assert live_pollers(beats, now=100.0, ttl_s=5.0) == ["a", "b", "d"]
    assert live_pollers({}, now=100.0, ttl_s=5.0) == []


@given(pollers, accounts)
def test_every_account_has_exactly_one_live_owner(live: list[str], emails: list[str]) -> None:
    shares = [owned_by(me, emails, live) for me in live]
    for email in emails:
        assert sum(email in share for share in shares) == 1
        assert owner(email, live) in live
    assert set().union(*shares) == set(emails)


@given(pollers, accounts, st.data())
def test_every_poller_agrees_whatever_order_it_lists_the_others_in(live: list[str], emails: list[str],
                                                                   data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(live))
    assert all(owner(email, live) == owner(email, shuffled) for email in emails)


@given(pollers, accounts, poller_ids)
def test_a_poller_that_joins_takes_accounts_only_for_itself(live: list[str], emails: list[str],
                                                            joiner: str) -> None:
    after = [*live, joiner] if joiner not in live else live
    for email in emails:
        before_owner, after_owner = owner(email, live), owner(email, after)
        assert after_owner in (before_owner, joiner)


@given(pollers, accounts, st.data())
def test_a_poller_that_leaves_gives_away_only_its_own_accounts(live: list[str], emails: list[str],
                                                               data: st.DataObject) -> None:
    leaver = data.draw(st.sampled_from(live))
    rest = [p for p in live if p != leaver]
    for email in emails:
        if owner(email, live) != leaver:
            assert owner(email, rest) == owner(email, live)
        else:
            assert owner(email, rest) in (rest or [None])


def test_the_accounts_spread_evenly() -> None:
    live = [f"host{n}:{1000 + n}:ab12cd" for n in range(4)]
    counts = Counter(owner(f"user{n}@example.com", live) for n in range(10_000))
    assert set(counts) == set(live)
    assert all(2_200 < count < 2_800 for count in counts.values()), counts


def test_a_poller_that_cannot_see_itself_keeps_its_share() -> None:
    emails = [f"u{n}@x.com" for n in range(200)]
    # It could not check in (Redis down): the others' stale list does not leave its accounts unpolled.
    assert owned_by("me", emails, ["other"]) == owned_by("me", emails, ["me", "other"])
    assert owned_by("me", emails, []) == set(emails)


def test_a_share_is_computed_again_only_when_something_changed() -> None:
    emails = ("a@x.com", "b@x.com", "c@x.com")
    share = Share("p1").update(["p1", "p2"], emails)
    assert share.mine == frozenset(owned_by("p1", emails, ["p1", "p2"]))
    assert share.update(["p2", "p1"], emails) is share
    alone = share.update(["p1"], emails)
    assert alone.mine == frozenset(emails)
    assert Share("p1").update(["p1", "p2"], ()).mine == frozenset()
