"""Chaos through the real client: each fault arrives with its real wire shape, at the configured
rate (binomial tolerance), and the run records exactly what it injected."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.ads.googleads.errors import GoogleAdsException

from spectra.sandbox import server as server_module
from spectra.sandbox.chaos import Chaos, ChaosConfig
from spectra.sandbox.errors import FAILURE_KEY
from spectra.sandbox.market import Market
from spectra.sandbox.server import CLOCK_HEADER, SandboxServer

CLOCK = dt.date(2026, 11, 25)
META = [(CLOCK_HEADER, CLOCK.isoformat())]


@pytest.fixture(scope="module")
def chaos(own_sandbox: SandboxServer) -> Iterator[Chaos]:
    c = Chaos(ChaosConfig(seed=11)).install(own_sandbox.state)
    yield c
    c.off()


def _status(exc: BaseException) -> grpc.StatusCode | None:
    if isinstance(exc, GoogleAdsException):
        return exc.error.code()
    if isinstance(exc, grpc.RpcError):
        return exc.code()
    inner = getattr(exc, "__cause__", None) or getattr(exc, "_response", None)
    code = getattr(exc, "grpc_status_code", None)
    if code is not None:
        return code
    return _status(inner) if isinstance(inner, BaseException) else None


def _stream(client: Any, cid: int, query: str = "SELECT customer.id FROM customer") -> int:
    svc = client.get_service("GoogleAdsService")
    return sum(
        len(b.results) for b in svc.search_stream(customer_id=str(cid), query=query, metadata=META)
    )


def _unavailable(exc: BaseException) -> bool:
    from google.api_core import exceptions as api_exceptions

    if isinstance(exc, api_exceptions.ServiceUnavailable):
        return True
    return isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE


def _within(observed: int, n: int, rate: float) -> bool:
    sd = math.sqrt(n * rate * (1 - rate))
    return abs(observed - n * rate) <= 4 * sd + 1


def test_call_faults_arrive_at_configured_rates(
    own_client: Any, own_market: Market, chaos: Chaos
) -> None:
    cid = own_market.customer_ids()[0]
    rates = {
        "unavailable": 0.15,
        "deadline_exceeded": 0.05,
        "resource_exhausted": 0.1,
        "internal": 0.05,
    }
    chaos.configure(methods=["GoogleAdsService/SearchStream"], **rates)
    before = Counter(i.fault for i in chaos.injected)
    n = 300
    seen: Counter[str] = Counter()
    retry_delays: list[float] = []
    for _ in range(n):
        try:
            _stream(own_client, cid)
            seen["ok"] += 1
        except (
            GoogleAdsException
        ) as exc:  # only faults with a GoogleAdsFailure and a non-quota status
            seen[exc.error.code().name] += 1
        except Exception as exc:  # plain RpcError (api_core wraps it): UNAVAILABLE, INTERNAL, quota
            err = getattr(exc, "_response", None) or getattr(exc, "errors", [None])[0] or exc
            code = err.code() if hasattr(err, "code") and callable(err.code) else _status(exc)
            seen[code.name if code else type(exc).__name__] += 1
            trailing = (
                dict(err.trailing_metadata() or ()) if hasattr(err, "trailing_metadata") else {}
            )
            if FAILURE_KEY in trailing and code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

                failure = GoogleAdsFailure.deserialize(trailing[FAILURE_KEY])
                retry_delays.append(
                    failure.errors[0].details.quota_error_details.retry_delay.seconds
                )
    chaos.off()
    injected = Counter(i.fault for i in chaos.injected) - before
    assert injected["unavailable"] == seen["UNAVAILABLE"]
    assert injected["resource_exhausted"] == seen["RESOURCE_EXHAUSTED"]
    assert injected["internal"] == seen["INTERNAL"]
    assert injected["deadline_exceeded"] == seen["DEADLINE_EXCEEDED"]
    for fault, rate in rates.items():
        assert _within(injected[fault], n, rate), (fault, injected[fault], n * rate)
    assert retry_delays and set(retry_delays) == {2}  # QuotaErrorDetails.retry_delay as configured
    print({k: f"{v / n:.3f} (configured {rates.get(k, '-')})" for k, v in injected.items()})


def test_stream_cut_mid_way_and_slow_streams(
    own_client: Any, own_market: Market, chaos: Chaos, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = own_market.customer_ids()[0]
    monkeypatch.setattr(server_module, "STREAM_BATCH_ROWS", 20)  # many small batches
    query = "SELECT ad_group_criterion.criterion_id, segments.date, metrics.clicks FROM keyword_view WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-20'"
    full = _stream(own_client, cid, query)
    assert full > 60
    chaos.configure(methods=["GoogleAdsService/SearchStream"], stream_cut=1.0, cut_after_batches=2)
    received = 0
    with pytest.raises(Exception) as info:
        svc = own_client.get_service("GoogleAdsService")
        for batch in svc.search_stream(customer_id=str(cid), query=query, metadata=META):
            received += len(batch.results)
    assert received == 40  # two batches of 20 arrived, then the stream was reset
    assert _unavailable(info.value)
    assert chaos.injected[-1].fault == "stream_cut"
    chaos.configure(stream_cut=0.0, slow=1.0, slow_seconds=0.05)
    started = time.perf_counter()
    assert _stream(own_client, cid, query) == full
    assert time.perf_counter() - started >= 0.05 * (full // 20)
    chaos.off()


def test_partial_failures_and_lost_responses_in_mutates(
    own_client: Any, own_market: Market, chaos: Chaos
) -> None:
    cid = own_market.customer_ids()[1]
    svc = own_client.get_service("GoogleAdsService")
    budgets = [
        r.campaign_budget.resource_name
        for b in svc.search_stream(
            customer_id=str(cid),
            query="SELECT campaign_budget.resource_name FROM campaign",
            metadata=META,
        )
        for r in b.results
    ]
    budget_svc = own_client.get_service("CampaignBudgetService")

    def op(rn: str, amount: int) -> Any:
        o = own_client.get_type("CampaignBudgetOperation")
        o.update.resource_name = rn
        o.update.amount_micros = amount
        o.update_mask.paths.append("amount_micros")
        return o

    rate = 0.25
    chaos.configure(methods=["*Mutate*"], partial_failure=rate)
    n = 400
    ops = [op(budgets[i % len(budgets)], 20_000_000 + 10_000 * i) for i in range(n)]
    resp = budget_svc.mutate_campaign_budgets(
        request={"customer_id": str(cid), "operations": ops, "partial_failure": True}, metadata=META
    )
    failed = sum(1 for r in resp.results if not r.resource_name)
    from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

    failure = GoogleAdsFailure.deserialize(resp.partial_failure_error.details[0].value)
    assert len(failure.errors) == failed
    assert {e.error_code.database_error.name for e in failure.errors} == {"CONCURRENT_MODIFICATION"}
    assert _within(failed, n, rate), (failed, n * rate)
    # lost response: the client sees UNAVAILABLE, yet the change is in the market
    chaos.configure(partial_failure=0.0, lost_response=1.0)
    with pytest.raises(Exception) as info:
        budget_svc.mutate_campaign_budgets(
            customer_id=str(cid), operations=[op(budgets[0], 123_000_000)], metadata=META
        )
    assert _unavailable(info.value)
    chaos.off()
    after = [
        r.campaign_budget.amount_micros
        for b in svc.search_stream(
            customer_id=str(cid),
            query="SELECT campaign_budget.amount_micros FROM campaign",
            metadata=META,
        )
        for r in b.results
    ]
    assert 123_000_000 in after
    assert chaos.injected[-1].fault == "lost_response"
    summary = chaos.summary()
    assert summary["injected"]["lost_response"] == 1


def test_scenario_chaos_config_parses() -> None:
    market = Market.from_scenario(
        "tiny", chaos={"unavailable": 0.1, "methods": ["GoogleAdsService/*"]}
    )
    c = Chaos.from_scenario(market.scenario)
    assert c.config.unavailable == 0.1 and c.config.methods == ("GoogleAdsService/*",)
    with pytest.raises(ValueError):
        ChaosConfig(unavailable=0.7, internal=0.6)
