"""Fault injection for the sandbox: the failures Google's API really produces, at chosen rates.

Faults (one at most per call, drawn from a seeded stream so a run is reproducible):
- ``unavailable`` → UNAVAILABLE; ``deadline_exceeded`` → DEADLINE_EXCEEDED; ``internal`` → INTERNAL
  (plain RpcError on the client, like Google's);
- ``resource_exhausted`` → RESOURCE_EXHAUSTED with a GoogleAdsFailure quota_error
  (RESOURCE_TEMPORARILY_EXHAUSTED) whose QuotaErrorDetails carry ``retry_delay_seconds``;
- ``slow`` → the call (or every SearchStream batch) is delayed by ``slow_seconds``;
- ``stream_cut`` → a SearchStream aborts with UNAVAILABLE after ``cut_after_batches`` batches;
- ``partial_failure`` → each mutate operation fails with database_error.CONCURRENT_MODIFICATION
  at this rate (reported per operation with partial_failure, or failing the atomic request);
- ``lost_response`` → a mutate is applied on the server but the client gets UNAVAILABLE.

Data faults (``DATA_FAULTS``, drawn on their own for each SearchStream call the call faults
spare; the call then ends OK, so only the data can tell):
- ``hostile_text`` → the first served row with a text field of ``text_fields`` gets
  ``hostile_text_value`` there (NUL, C0 controls, a bidi override, 10 000 characters);
- ``stream_truncate`` → the stream ends OK after ``cut_after_batches`` batches, skipping the
  rest of the results but still sending the last batch (where the summary row is, when
  asked for): a partial answer with an OK status.

``methods`` (glob patterns such as ``GoogleAdsService/SearchStream`` or ``*Mutate*``) restrict
where faults land. Every injection is recorded (``injected``), so a
test or the evaluation harness can compare what happened with what was configured.

Configure per scenario (a ``chaos:`` mapping in the scenario YAML) or at run time
(``Chaos.install(server.state)``, ``chaos.configure(...)``).
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import grpc
import numpy as np

from spectra.sandbox.errors import AdsFault, ErrorDetail

CALL_FAULTS = (
    "unavailable",
    "deadline_exceeded",
    "resource_exhausted",
    "internal",
    "slow",
    "stream_cut",
)

DATA_FAULTS = ("hostile_text", "stream_truncate")
HOSTILE_TEXT = "\u202eshoes\x00\x1b[31m" + "x" * 10_000


@dataclass(frozen=True)
class ChaosConfig:
    """Rates are probabilities per call (per operation for ``partial_failure``)."""

    unavailable: float = 0.0
    deadline_exceeded: float = 0.0
    resource_exhausted: float = 0.0
    internal: float = 0.0
    slow: float = 0.0
    stream_cut: float = 0.0
    partial_failure: float = 0.0
    lost_response: float = 0.0
    hostile_text: float = 0.0
    stream_truncate: float = 0.0
    hostile_text_value: str = HOSTILE_TEXT
    text_fields: tuple[str, ...] = (
        "search_term_view.search_term",
        "ad_group_criterion.keyword.text",
    )
    retry_delay_seconds: float = 2.0
    slow_seconds: float = 0.2
    cut_after_batches: int = 1
    methods: tuple[str, ...] = ("*",)
    seed: int = 0

    def __post_init__(self) -> None:
        total = sum(getattr(self, f) for f in CALL_FAULTS)
        if total > 1.0 + 1e-9:
            raise ValueError(f"per-call fault rates add up to {total:.3f} > 1")
        if sum(getattr(self, f) for f in DATA_FAULTS) > 1.0 + 1e-9:
            raise ValueError("data fault rates add up to more than 1")
        for name in (*CALL_FAULTS, *DATA_FAULTS, "partial_failure", "lost_response"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"chaos rate {name} must be in [0, 1]")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> ChaosConfig:
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown chaos keys: {sorted(unknown)}")
        for key in ("methods", "text_fields"):
            if key in raw:
                value = raw[key]
                raw[key] = tuple(value if isinstance(value, list | tuple) else [value])
        return cls(**raw)


@dataclass(frozen=True)
class Injection:
    seq: int
    method: str
    fault: str
    detail: str = ""


@dataclass
class Chaos:
    """Decides and records faults; install on a SandboxState."""

    config: ChaosConfig = field(default_factory=ChaosConfig)
    injected: list[Injection] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    operations: int = 0
    _draws: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    @classmethod
    def from_scenario(cls, scenario: Any) -> Chaos:
        return cls(ChaosConfig.from_mapping(getattr(scenario, "chaos", None)))

    # ------------------------------------------------------------------ control
    def configure(self, **changes: Any) -> None:
        """Change rates/targets at run time (e.g. ``chaos.configure(unavailable=0.2)``)."""
        # lists (from JSON) become the config's tuples
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()
        }
        with self._lock:
            self.config = replace(self.config, **values)

    def off(self) -> None:
        self.configure(
            **{
                name: 0.0
                for name in (*CALL_FAULTS, *DATA_FAULTS, "partial_failure", "lost_response")
            }
        )

    def install(self, state: Any) -> Chaos:
        """Hook into a server's state: every RPC, SearchStream batches and mutates."""
        state.before_call.append(self.before_call)
        state.chaos = self
        original = state.query_batches

        def query_batches(*args: Any, **kwargs: Any) -> Any:
            return self._stream(original(*args, **kwargs))

        state.query_batches = query_batches
        return self

    def summary(self) -> dict[str, Any]:
        """What was injected, per fault, beside how many calls could have been hit."""
        with self._lock:
            return {
                "calls": dict(self.calls),
                "operations": self.operations,
                "injected": dict(Counter(i.fault for i in self.injected)),
                "config": asdict(self.config),
            }

    # ------------------------------------------------------------------ decisions
    def _uniform(self) -> float:
        with self._lock:
            self._draws += 1
            draw = self._draws
        return float(np.random.default_rng([self.config.seed, draw]).random())

    def _targeted(self, method: str) -> bool:
        return any(fnmatch.fnmatch(method, p) for p in self.config.methods)

    def _record(self, method: str, fault: str, detail: str = "") -> None:
        with self._lock:
            self.injected.append(Injection(len(self.injected) + 1, method, fault, detail))

    def before_call(self, method: str, context: grpc.ServicerContext) -> None:
        """Called by the server at the start of every RPC (after auth checks)."""
        self._local.context = context
        self._local.stream_fault = None
        self._local.method = method
        with self._lock:
            self.calls[method] += 1
        if not self._targeted(method):
            return
        cfg = self.config
        u = self._uniform()
        edge = 0.0
        for fault in CALL_FAULTS:
            edge += getattr(cfg, fault)
            if u < edge:
                break
        else:
            if method.endswith("SearchStream") and any(getattr(cfg, f) for f in DATA_FAULTS):
                self._local.stream_fault = self._data_fault()
            return
        if fault == "slow":
            self._record(method, fault, f"{cfg.slow_seconds}s")
            if method.endswith("SearchStream"):
                self._local.stream_fault = "slow"
            else:
                time.sleep(cfg.slow_seconds)
            return
        if fault == "stream_cut":
            if method.endswith("SearchStream"):
                self._local.stream_fault = "stream_cut"
            return  # recorded when the cut happens (a short stream may end first)
        self._record(method, fault)
        raise _fault(fault, cfg.retry_delay_seconds)

    def _data_fault(self) -> str | None:
        u, edge = self._uniform(), 0.0
        for fault in DATA_FAULTS:
            edge += getattr(self.config, fault)
            if u < edge:
                return fault
        return None

    def _hostile(self, batches: list[bytes], method: str) -> list[bytes]:
        """The batches with one text field of the first row that has one made hostile."""
        from google.ads.googleads.v26.services.types import google_ads_service

        response_pb = google_ads_service.SearchGoogleAdsStreamResponse.pb()
        out = list(batches)
        for index, data in enumerate(batches):
            response = response_pb.FromString(data)
            field_name = next(
                (f for f in self.config.text_fields if f in response.field_mask.paths), None
            )
            if field_name is None or not response.results:
                continue
            *path, leaf = field_name.split(".")
            target = response.results[0]
            for part in path:
                target = getattr(target, part)
            setattr(target, leaf, self.config.hostile_text_value)
            out[index] = response.SerializeToString()
            self._record(method, "hostile_text", f"{field_name} of the first row of batch {index}")
            break
        return out

    def _stream(self, batches: Sequence[bytes]) -> Iterator[bytes]:
        fault = getattr(self._local, "stream_fault", None)
        context = getattr(self._local, "context", None)
        method = getattr(self._local, "method", "GoogleAdsService/SearchStream")
        self._local.stream_fault = None
        if fault is None:
            return iter(batches)
        return self._faulty_stream(list(batches), fault, context, method)

    def _faulty_stream(
        self, batches: list[bytes], fault: str, context: Any, method: str
    ) -> Iterator[bytes]:
        cfg = self.config
        if fault == "hostile_text":
            batches = self._hostile(batches, method)
        elif fault == "stream_truncate":
            cut = cfg.cut_after_batches
            if len(batches) > cut + 1:
                self._record(method, "stream_truncate", f"{cut} + last of {len(batches)} batches")
                batches = [*batches[:cut], batches[-1]]
        for index, batch in enumerate(batches):
            if fault == "slow":
                time.sleep(cfg.slow_seconds)
            elif fault == "stream_cut" and index >= cfg.cut_after_batches:
                self._record(method, "stream_cut", f"after {index} of {len(batches)} batches")
                if context is not None:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "stream reset by peer (injected)")
                raise RuntimeError("stream cut (injected)")
            yield batch

    def forced_failures(self, method: str, n_operations: int) -> set[int]:
        """Operation indexes a mutate must fail with CONCURRENT_MODIFICATION."""
        with self._lock:
            self.operations += n_operations
        rate = self.config.partial_failure
        if rate <= 0 or not self._targeted(method):
            return set()
        out = {i for i in range(n_operations) if self._uniform() < rate}
        for i in sorted(out):
            self._record(method, "partial_failure", f"operation {i}")
        return out

    def after_mutate(self, method: str, context: grpc.ServicerContext) -> None:
        """Called after a mutate was applied; may lose the response."""
        rate = self.config.lost_response
        if rate <= 0 or not self._targeted(method):
            return
        if self._uniform() < rate:
            self._record(method, "lost_response")
            raise AdsFault(grpc.StatusCode.UNAVAILABLE, [])


def _fault(fault: str, retry_delay: float) -> AdsFault:
    if fault == "unavailable":
        return AdsFault(grpc.StatusCode.UNAVAILABLE, [])
    if fault == "deadline_exceeded":
        return AdsFault(grpc.StatusCode.DEADLINE_EXCEEDED, [])
    if fault == "internal":
        return AdsFault(
            grpc.StatusCode.INTERNAL,
            [ErrorDetail("internal_error", "INTERNAL_ERROR", "An internal error has occurred.")],
        )
    return AdsFault(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        [
            ErrorDetail(
                "quota_error",
                "RESOURCE_TEMPORARILY_EXHAUSTED",
                "Too many requests. Retry in a few seconds.",
            )
        ],
        retry_delay_seconds=retry_delay,
    )


__all__ = ["CALL_FAULTS", "DATA_FAULTS", "Chaos", "ChaosConfig", "Injection"]
