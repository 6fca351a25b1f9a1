"""The market behaves like real Google Ads accounts: shared keyword ids, omitted zero rows,
account time zones with partial days, and currencies with billable units."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace

import pytest

from spectra.sandbox.market import Market, Mutation, MutationError, load_scenario

AS_OF = dt.date(2026, 12, 1)


def _keyword_rows(m: Market, cid: int) -> list[dict]:
    return list(
        m.rows(
            "ad_group_criterion",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=AS_OF,
            fields=frozenset(
                {
                    "ad_group.id",
                    "ad_group_criterion.criterion_id",
                    "ad_group_criterion.keyword.text",
                    "ad_group_criterion.keyword.match_type",
                    "ad_group_criterion.resource_name",
                    "ad_group_criterion.negative",
                }
            ),
        )
    )


# --------------------------------------------------------------------------- shared ids


def test_one_keyword_has_one_criterion_id_in_every_ad_group() -> None:
    m = Market.from_scenario("demo")
    shared = total = 0
    for cid in m.customer_ids():
        rows = [r for r in _keyword_rows(m, cid) if not r["ad_group_criterion.negative"]]
        by_id: dict[int, set[tuple[str, str]]] = {}
        for r in rows:
            kw = (r["ad_group_criterion.keyword.text"], r["ad_group_criterion.keyword.match_type"])
            by_id.setdefault(r["ad_group_criterion.criterion_id"], set()).add(kw)
        assert all(len(texts) == 1 for texts in by_id.values())  # an id is one keyword
        groups = Counter(r["ad_group_criterion.criterion_id"] for r in rows)
        in_account = sum(n for n in groups.values() if n > 1)
        print(f"account {cid}: {in_account} of {len(rows)} keywords share their criterion id")
        assert in_account >= 2
        shared, total = shared + in_account, total + len(rows)
        names = [r["ad_group_criterion.resource_name"] for r in rows]
        assert len(set(names)) == len(names)  # adGroupCriteria/{ad_group}~{criterion} is unique
        for r in rows:
            assert r["ad_group_criterion.resource_name"].endswith(
                f"/adGroupCriteria/{r['ad_group.id']}~{r['ad_group_criterion.criterion_id']}"
            )
        pairs = {(r["ad_group.id"], r["ad_group_criterion.criterion_id"]) for r in rows}
        assert len(pairs) == len(rows)  # never twice in one ad group
    # StructureSpec.shared_keyword_share (10 %) of the keywords copy another ad group's: each
    # copy and its original share an id
    assert 0.15 <= shared / total <= 0.25


def test_sharing_can_be_switched_off() -> None:
    sc = load_scenario("tiny")
    m = Market(replace(sc, structure=replace(sc.structure, shared_keyword_share=0.0)))
    ids = m.struct.keyword_id.tolist()
    assert len(set(ids)) == len(ids)


def test_shared_keywords_are_separate_keywords_with_their_own_traffic() -> None:
    m = Market.from_scenario("tiny")
    st = m.struct
    ids = Counter(st.keyword_id.tolist())
    shared = [k for k, cid in enumerate(st.keyword_id.tolist()) if ids[cid] > 1]
    assert shared
    rows = list(
        m.rows(
            "keyword_view",
            customer_id=int(st.customer_id[st.keyword_account[shared[0]]]),
            date_from=AS_OF - dt.timedelta(days=28),
            date_to=AS_OF - dt.timedelta(days=1),
            as_of=AS_OF,
            fields=frozenset(
                {
                    "ad_group.id",
                    "ad_group_criterion.criterion_id",
                    "metrics.clicks",
                    "segments.date",
                }
            ),
        )
    )
    crit = int(st.keyword_id[shared[0]])
    days = Counter(r["segments.date"] for r in rows if r["ad_group_criterion.criterion_id"] == crit)
    assert max(days.values()) >= 2  # one criterion, two ad groups, one day: two rows


def test_creating_a_keyword_another_ad_group_has_reuses_its_id() -> None:
    m = Market.from_scenario("tiny")
    st = m.struct
    cid = m.customer_ids()[0]
    k = 0
    text, match = st.keyword_text[k], ("EXACT", "PHRASE", "BROAD")[int(st.keyword_match[k])]
    other = next(
        g
        for g in range(st.n_ad_groups)
        if g != st.keyword_ad_group[k] and st.ad_group_account[g] == st.keyword_account[k]
    )
    group_id = int(st.ad_group_id[other])
    rn = m.apply_mutation(
        cid,
        Mutation(
            "ad_group_criterion",
            "create",
            "",
            {
                "ad_group": f"customers/{cid}/adGroups/{group_id}",
                "keyword.text": text,
                "keyword.match_type": match,
            },
        ),
        as_of=AS_OF,
    )
    assert rn == f"customers/{cid}/adGroupCriteria/{group_id}~{int(st.keyword_id[k])}"
    # each copy is its own resource: pausing the new one leaves the original serving
    m.apply_mutation(
        cid, Mutation("ad_group_criterion", "update", rn, {"status": "PAUSED"}), as_of=AS_OF
    )
    state = m.state_at(AS_OF.toordinal())
    assert state.keyword_status[k] == 0 and state.keyword_status[-1] == 1
    original = f"customers/{cid}/adGroupCriteria/{int(st.ad_group_id[st.keyword_ad_group[k]])}~{int(st.keyword_id[k])}"
    wrong_group = original.replace(
        f"/{int(st.ad_group_id[st.keyword_ad_group[k]])}~", f"/{int(st.ad_group_id[other]) + 11}~"
    )
    with pytest.raises(MutationError):
        m.apply_mutation(
            cid,
            Mutation("ad_group_criterion", "update", wrong_group, {"status": "PAUSED"}),
            as_of=AS_OF,
        )
