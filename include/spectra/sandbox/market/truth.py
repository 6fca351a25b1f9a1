"""The truth behind the market, for the evaluation harness (Python only, never served over gRPC).

- ``keywords(day, bids=…, budgets=…)``: the true *expected* impressions, clicks, cost, conversions
  and value of every keyword on a day, at the bids and budgets in force or at any others;
- ``matured(...)``: what actually happened per keyword-day once every conversion has arrived
  (``conversions``, the final reported figure) and including conversions a tracking outage hid
  (``conversions_actual``);
- ``oracle(day)``: the profit-optimal keyword bids (manual CPC), target CPAs (Smart Bidding) and
  budgets on a day — maximising value − (1 + cost_penalty) · cost under the true curves, budgets
  set so they do not bind — and the expected profit of the current settings beside it.

Everything uses the same model function the simulation uses (model.expected), so the oracle is the
optimum of exactly the market an optimizer faces, minus the noise and the lag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from spectra.sandbox.market.model import Expected, expected
from spectra.sandbox.market.structure import (
    BIDDING,
    MANUAL_CPC,
    TARGET_CPA,
    TARGET_ROAS,
    round_bid,
    sum_by,
)

if TYPE_CHECKING:
    import pandas as pd

    from spectra.sandbox.market.market import Market

BID_GRID = np.geomspace(0.05, 12.0, 90)  # bids as multiples of the keyword's competitive price
TCPA_GRID = np.geomspace(0.1, 8.0, 60)  # target CPAs as multiples of the campaign's value/conv


@dataclass(frozen=True)
class Oracle:
    """The optimal settings for a day and how much better they are than the current ones."""

    day: dt.date
    keyword_bids: (
        pd.DataFrame
    )  # criterion_id, campaign_id, current_bid_micros, optimal_bid_micros, …
    campaigns: (
        pd.DataFrame
    )  # campaign_id, bidding, optimal_target_cpa_micros, optimal_budget_micros, …
    expected_profit_current: float  # currency units per day
    expected_profit_optimal: float

    @property
    def regret(self) -> float:
        """Expected profit per day the current settings leave on the table."""
        return self.expected_profit_optimal - self.expected_profit_current


class Truth:
    """Ground truth for one market."""

    def __init__(self, market: Market) -> None:
        self.market = market

    # ------------------------------------------------------------------ expected curves
    def _expected(
        self,
        day: dt.date,
        *,
        bids: NDArray[np.float64] | None = None,
        budgets: NDArray[np.float64] | None = None,
        target_cpa: NDArray[np.float64] | None = None,
        ignore_budget: bool = False,
    ) -> Expected:
        m = self.market
        ordinal = day.toordinal()
        state = m.state_at(ordinal)
        if target_cpa is not None:
            state = state.copy()
            state.campaign_target_cpa = np.asarray(target_cpa, np.float64).astype(np.int64)
        return expected(
            m.struct,
            state,
            m.context(ordinal),
            keyword_bid=bids,
            campaign_budget=budgets,
            ignore_budget=ignore_budget,
        )

    def _ids(
        self, mapping: Mapping[int, int] | None, ids: NDArray[np.int64], current: NDArray[Any]
    ) -> NDArray[np.float64]:
        out = current.astype(np.float64).copy()
        if mapping:
            index = {int(v): i for i, v in enumerate(ids.tolist())}
            for key, value in mapping.items():
                out[index[int(key)]] = float(value)
        return out

    def _keyword_bids(
        self, mapping: Mapping[Any, int] | None, current: NDArray[Any]
    ) -> NDArray[np.float64]:
        """Bids per keyword from ``mapping``: keys (ad group id, criterion id), or a criterion id
        alone for every ad group holding that keyword (Google shares the id across them)."""
        out = current.astype(np.float64).copy()
        if mapping:
            st = self.market.struct
            by_id: dict[int, list[int]] = {}
            for i, cid in enumerate(st.keyword_id.tolist()):
                by_id.setdefault(int(cid), []).append(i)
            groups = st.ad_group_id[st.keyword_ad_group]
            for key, value in mapping.items():
                if isinstance(key, tuple):
                    hits = [i for i in by_id[int(key[1])] if int(groups[i]) == int(key[0])]
                    if not hits:
                        raise KeyError(key)
                else:
                    hits = by_id[int(key)]
                out[hits] = float(value)
        return out

    def current_bids(self, day: dt.date) -> NDArray[np.int64]:
        st = self.market.struct
        s = self.market.state_at(day.toordinal())
        return np.where(s.keyword_bid > 0, s.keyword_bid, s.ad_group_bid[st.keyword_ad_group])

    def keywords(
        self,
        day: dt.date,
        *,
        bids: Mapping[tuple[int, int], int] | Mapping[int, int] | None = None,
        budgets: Mapping[int, int] | None = None,
        customer_id: int | None = None,
    ) -> pd.DataFrame:
        """Expected metrics per keyword on ``day``; ``bids`` by (ad group id, criterion id) (or a
        criterion id for all its ad groups), ``budgets`` by campaign id override the settings in
        force. Conversions are fully matured (no lag, no outage)."""
        import pandas as pd

        m = self.market
        st = m.struct
        state = m.state_at(day.toordinal())
        bid_arr = self._keyword_bids(bids, self.current_bids(day))
        budget_arr = self._ids(budgets, st.campaign_id, state.campaign_budget)
        exp = self._expected(day, bids=bid_arr, budgets=budget_arr)
        frame = pd.DataFrame(self._per_keyword(exp))
        frame.insert(0, "criterion_id", st.keyword_id)
        frame.insert(1, "ad_group_id", st.ad_group_id[st.keyword_ad_group])
        frame.insert(2, "campaign_id", st.campaign_id[st.keyword_campaign])
        frame.insert(3, "customer_id", st.customer_id[st.keyword_account])
        frame["bid_micros"] = bid_arr
        frame["serving"] = exp.keyword_serving
        frame["first_page_cpc_micros"] = exp.keyword_first_page_cpc
        if customer_id is not None:
            frame = frame[frame["customer_id"] == customer_id].reset_index(drop=True)
        return frame

    def _per_keyword(self, exp: Expected) -> dict[str, NDArray[np.float64]]:
        st = self.market.struct
        tk = st.term_keyword
        n = st.n_keywords
        return {
            "impressions": sum_by(tk, exp.impressions, n),
            "clicks": sum_by(tk, exp.clicks, n),
            "cost_micros": sum_by(tk, exp.cost, n),
            "conversions": sum_by(tk, exp.conversions, n),
            "conversions_value": sum_by(tk, exp.value, n),
        }

    def search_terms(self, day: dt.date) -> pd.DataFrame:
        """Expected metrics per simulated search term, with the truth about relevance (negative
        candidates) and the share of its clicks its long-tail variants take (tail.py; a
        variant is as relevant as its term: :meth:`search_term_relevant`)."""
        import pandas as pd

        st = self.market.struct
        exp = self._expected(day)
        return pd.DataFrame(
            {
                "search_term": st.term_text,
                "criterion_id": st.keyword_id[st.term_keyword],
                "ad_group_id": st.ad_group_id[st.term_ad_group],
                "campaign_id": st.campaign_id[st.term_campaign],
                "customer_id": st.customer_id[st.term_account],
                "relevant": st.term_relevant,
                "tail_click_share": self.market.term_tail_share(),
                "clicks": exp.clicks,
                "cost_micros": exp.cost,
                "conversions": exp.conversions,
                "conversions_value": exp.value,
            }
        )

    def search_term_relevant(self, ad_group_id: int, search_term: str) -> bool | None:
        """Whether a served search term (a simulated term or one of its long-tail variants,
        tail.py) is relevant to its ad group's keywords; None for a text the ad group never
        served. A variant is as relevant as the term it contains."""
        from spectra.sandbox.market import tail

        st = self.market.struct
        groups = np.flatnonzero(st.ad_group_id == ad_group_id)
        if groups.size == 0:
            return None
        for t in np.flatnonzero(st.term_ad_group == groups[0]).tolist():
            if tail.belongs(search_term, st.term_text[t]):
                return bool(st.term_relevant[t])
        return None

    # ------------------------------------------------------------------ realised, fully matured
    def matured(self, customer_id: int, date_from: dt.date, date_to: dt.date) -> pd.DataFrame:
        """Realised keyword-day metrics with every conversion arrived (what the API will show once
        the lag has passed) and the conversions a tracking outage hid."""
        import pandas as pd

        m = self.market
        st = m.struct
        account = m.account_index(customer_id)
        keys = np.flatnonzero(st.keyword_account == account)
        frames = []
        for ordinal in range(date_from.toordinal(), date_to.toordinal() + 1):
            res = m.day(ordinal)
            tk = st.term_keyword
            n = st.n_keywords
            all_terms = res.conversion_term
            kept = ~res.conversion_lost
            frames.append(
                pd.DataFrame(
                    {
                        "date": dt.date.fromordinal(ordinal).isoformat(),
                        "criterion_id": st.keyword_id[keys],
                        "ad_group_id": st.ad_group_id[st.keyword_ad_group[keys]],
                        "campaign_id": st.campaign_id[st.keyword_campaign[keys]],
                        "impressions": np.bincount(tk, weights=res.impressions, minlength=n)[keys],
                        "clicks": np.bincount(tk, weights=res.clicks, minlength=n)[keys],
                        "cost_micros": np.bincount(tk, weights=res.cost_micros, minlength=n)[keys],
                        "conversions": np.bincount(tk[all_terms[kept]], minlength=n)[keys].astype(
                            float
                        ),
                        "conversions_value": np.bincount(
                            tk[all_terms[kept]], weights=res.conversion_value[kept], minlength=n
                        )[keys],
                        "conversions_actual": np.bincount(tk[all_terms], minlength=n)[keys].astype(
                            float
                        ),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # ------------------------------------------------------------------ the oracle
    def oracle(
        self, day: dt.date, *, cost_penalty: float = 0.0, budget_headroom: float = 1.15
    ) -> Oracle:
        """Profit-optimal settings on ``day`` (maximise value − (1 + cost_penalty) · cost).

        Keyword bids are optimised per keyword on a grid (keywords only interact through budgets,
        which the oracle sizes not to bind); Smart Bidding campaigns get the best target CPA.
        """
        import pandas as pd

        m = self.market
        st = m.struct
        state = m.state_at(day.toordinal())
        weight = 1.0 + cost_penalty
        price = st.keyword_cpc_scale * m.context(day.toordinal()).cpc_multiplier
        n_k = st.n_keywords
        best_profit = np.full(n_k, -np.inf)
        best_bid = np.zeros(n_k)
        for mult in BID_GRID:
            bids = np.asarray(round_bid(price * mult, st.unit_of("keyword")), np.float64)
            per = self._per_keyword(self._expected(day, bids=bids, ignore_budget=True))
            profit = per["conversions_value"] - weight * per["cost_micros"] / 1e6
            better = profit > best_profit
            best_profit[better] = profit[better]
            best_bid[better] = bids[better]
        # Smart Bidding campaigns: best target CPA per campaign
        n_c = st.n_campaigns
        smart = state.campaign_bidding != MANUAL_CPC
        # the target CPA is searched; a target ROAS campaign keeps its target (Smart Bidding
        # still sets its keywords' bids)
        smart_cpa = state.campaign_bidding == TARGET_CPA
        names = np.asarray(BIDDING, dtype=object)
        value_per_conv = np.bincount(
            st.keyword_campaign, weights=st.keyword_value, minlength=n_c
        ) / np.maximum(np.bincount(st.keyword_campaign, minlength=n_c), 1)
        best_c_profit = np.full(n_c, -np.inf)
        best_tcpa = state.campaign_target_cpa.astype(np.float64).copy()
        if smart_cpa.any():
            for mult in TCPA_GRID:
                tcpa = np.asarray(
                    round_bid(value_per_conv * 1e6 * mult, st.unit_of("campaign")), np.float64
                )
                per = self._per_keyword(self._expected(day, target_cpa=tcpa, ignore_budget=True))
                profit = sum_by(
                    st.keyword_campaign,
                    per["conversions_value"] - weight * per["cost_micros"] / 1e6,
                    n_c,
                )
                better = smart_cpa & (profit > best_c_profit)
                best_c_profit[better] = profit[better]
                best_tcpa[better] = tcpa[better]
        opt_bids = np.where(best_profit > 0, best_bid, 0.0)  # 0 = better off paused
        eff_bids = np.where(opt_bids > 0, opt_bids, st.unit_of("keyword").astype(np.float64))
        opt = self._expected(day, bids=eff_bids, target_cpa=best_tcpa, ignore_budget=True)
        opt_per = self._per_keyword(opt)
        keep = (opt_bids > 0) | smart[st.keyword_campaign]
        spend = np.bincount(
            st.keyword_campaign, weights=opt_per["cost_micros"] * keep, minlength=n_c
        )
        budgets = round_bid(np.maximum(spend * budget_headroom, 1_000_000), st.unit_of("campaign"))
        opt_profit = float(
            np.sum((opt_per["conversions_value"] - weight * opt_per["cost_micros"] / 1e6) * keep)
        )
        cur_per = self._per_keyword(self._expected(day))
        serving = self._expected(day).keyword_serving
        cur_profit = float(
            np.sum((cur_per["conversions_value"] - weight * cur_per["cost_micros"] / 1e6) * serving)
        )
        current_bids = self.current_bids(day)
        kw = pd.DataFrame(
            {
                "criterion_id": st.keyword_id,
                "ad_group_id": st.ad_group_id[st.keyword_ad_group],
                "campaign_id": st.campaign_id[st.keyword_campaign],
                "customer_id": st.customer_id[st.keyword_account],
                "bidding": names[state.campaign_bidding[st.keyword_campaign]],
                "current_bid_micros": current_bids,
                "optimal_bid_micros": opt_bids.astype(np.int64),
                "expected_profit_optimal": np.where(
                    keep, opt_per["conversions_value"] - weight * opt_per["cost_micros"] / 1e6, 0.0
                ),
                "expected_profit_current": (
                    cur_per["conversions_value"] - weight * cur_per["cost_micros"] / 1e6
                )
                * serving,
            }
        )
        camps = pd.DataFrame(
            {
                "campaign_id": st.campaign_id,
                "customer_id": st.customer_id[st.campaign_account],
                "bidding": names[state.campaign_bidding],
                "current_budget_micros": state.campaign_budget,
                "optimal_budget_micros": budgets,
                "current_target_cpa_micros": np.where(smart_cpa, state.campaign_target_cpa, 0),
                "optimal_target_cpa_micros": np.where(smart_cpa, best_tcpa, 0).astype(np.int64),
                "current_target_roas": np.where(
                    state.campaign_bidding == TARGET_ROAS, state.campaign_target_roas, 0.0
                ),
                "optimal_spend_micros": spend,
            }
        )
        return Oracle(day, kw, camps, cur_profit, opt_profit)


__all__ = ["MANUAL_CPC", "TARGET_CPA", "TARGET_ROAS", "Oracle", "Truth"]
