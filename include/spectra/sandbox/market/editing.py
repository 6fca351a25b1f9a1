"""The market's write side: ``Market.mutate`` validates and applies operations (see mutations.py).

Batches are atomic unless ``partial_failure``: the market checkpoints its mutable parts first and
restores them if any operation fails (and always after ``validate_only``), so a rejected request
leaves no trace, exactly like Google. Temporary ids (negative ids in resource names, as used by
GoogleAdsService.Mutate) resolve to the ids created earlier in the same batch.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from spectra.sandbox.market.mutations import (
    RESOURCES,
    UPDATABLE,
    Change,
    Mutation,
    MutationError,
    Record,
    check_bid,
    check_budget,
    check_keyword_text,
    check_roas,
    check_update_mask,
    fail,
    match_code,
    negative_matches,
    parse_resource_name,
    status_code,
)
from spectra.sandbox.market.state import ENABLED, REMOVED, State
from spectra.sandbox.market.structure import (
    BIDDING,
    MANUAL_CPC,
    MATCH_TYPES,
    TARGET_CPA,
    TARGET_ROAS,
    Structure,
    append_ad,
    append_ad_group,
    append_campaign,
    append_keyword,
    next_id,
)

if TYPE_CHECKING:
    import threading
    from collections import OrderedDict

    from spectra.sandbox.market.market import Snapshot
    from spectra.sandbox.market.scenario import Scenario
    from spectra.sandbox.market.simulate import DayResult
    from spectra.sandbox.market.state import DayContext

DEFAULT_CLIENT = "GOOGLE_ADS_API"
DEFAULT_USER = "spectra-apply@sandbox.invalid"


@dataclass
class Negative:
    """A negative keyword at ad group or campaign level, in force on [created, removed)."""

    criterion_id: int
    level: str  # "ad_group" | "campaign"
    parent: int  # ad group or campaign index
    account: int
    text: str
    match: int
    created: int
    removed: int | None = None

    def active(self, ordinal: int) -> bool:
        return self.created <= ordinal and (self.removed is None or ordinal < self.removed)


@dataclass
class PendingBudget:
    budget_id: int
    account: int
    amount: int
    name: str
    removed: bool = False
    created: int = 0  # the ordinal from which GAQL serves it


@dataclass
class _Checkpoint:
    struct: Structure
    base_state: State
    records: list[Record]
    changes: list[Change]
    negatives: list[Negative]
    created: dict[str, NDArray[np.int64]]
    pending: dict[int, PendingBudget]
    seq: int


class _Batch:
    def __init__(
        self,
        market: Editing,
        account: int,
        as_of: dt.date | dt.datetime,
        client_type: str,
        user_email: str,
    ) -> None:
        self.market = market
        self.account = account
        self.customer_id = int(market.struct.customer_id[account])
        # the account currency's billable unit: every amount sent must be a multiple of it
        self.unit = int(market.struct.account_unit[account])
        # an instant: in force from the start of its local hour (a bare date: the whole day)
        self.as_of, self.hour = market.account_now(account, as_of)
        self.ordinal = self.as_of.toordinal()
        self.client_type = client_type
        self.user_email = user_email
        self.temp: dict[str, str] = {}
        self.structural = False


class Editing:
    """Mixin for Market: mutation records, negatives, created entities and ``mutate``."""

    # What the mixin uses of its host (Market sets them in its __init__).
    scenario: Scenario
    struct: Structure
    version: int
    _lock: threading.RLock
    _state_cache: OrderedDict[tuple[Any, ...], State]
    _mask_cache: dict[tuple[int, int], NDArray[np.int64]]
    _id_maps: dict[str, dict[Any, int]]
    _ctx_cache: OrderedDict[int, DayContext]
    _day_cache: OrderedDict[int, DayResult]
    _snap_cache: OrderedDict[int, Snapshot]
    _base_state: State
    _records: list[Record]
    _changes: list[Change]
    _negatives: list[Negative]
    _created: dict[str, NDArray[np.int64]]
    _pending_budgets: dict[int, PendingBudget]
    _partial_cache: Any
    _seq: int

    if TYPE_CHECKING:  # Market's own methods

        def account_index(self, customer_id: int) -> int: ...

        def account_now(
            self, account: int, as_of: dt.date | dt.datetime
        ) -> tuple[dt.date, int]: ...

    # ------------------------------------------------------------------ public
    def mutate(
        self,
        customer_id: int,
        operations: Sequence[Mutation],
        *,
        as_of: dt.date | dt.datetime,
        validate_only: bool = False,
        partial_failure: bool = False,
        client_type: str = DEFAULT_CLIENT,
        user_email: str = DEFAULT_USER,
    ) -> list[str | MutationError]:
        """Apply operations; one resource name or MutationError per operation, in order.

        Without ``partial_failure`` any error rolls the whole batch back; ``validate_only``
        always does. Changes are in force from day ``as_of`` on, or with an instant from the
        start of its hour in the account's time zone on (intraday.py).
        """
        with self._lock:
            account = self.account_index(customer_id)
            checkpoint = self._checkpoint()
            batch = _Batch(self, account, as_of, client_type, user_email)
            results: list[str | MutationError] = []
            for op in operations:
                try:
                    results.append(self._apply_one(batch, op))
                except MutationError as exc:
                    results.append(exc)
            failed = any(isinstance(r, MutationError) for r in results)
            if validate_only or (failed and not partial_failure):
                self._restore(checkpoint)
                if batch.structural:
                    self._invalidate(batch.ordinal, structural=True)
            else:
                self._invalidate(batch.ordinal, structural=batch.structural)
            return results

    def apply_mutation(
        self,
        customer_id: int,
        mutation: Mutation,
        *,
        as_of: dt.date | dt.datetime,
        **kwargs: Any,
    ) -> str:
        """One operation; raises MutationError if Google would reject it."""
        result = self.mutate(customer_id, [mutation], as_of=as_of, **kwargs)[0]
        if isinstance(result, MutationError):
            raise result
        return result

    def changes(self, customer_id: int | None = None) -> list[Change]:
        """Every accepted change (oldest first), optionally for one account."""
        return [c for c in self._changes if customer_id is None or c.customer_id == customer_id]

    def negatives(self) -> list[Negative]:
        return list(self._negatives)

    # ------------------------------------------------------------------ state replay
    def _state_for(self, ordinal: int, hour: int = 23) -> State:
        """The settings in force at local ``hour`` of the day (default: its last hour)."""
        keys = [r.key for r in self._records]
        n = bisect.bisect_right(keys, (ordinal, hour, float("inf")))
        active = tuple(i for i, neg in enumerate(self._negatives) if neg.active(ordinal))
        key = (n, active, self.struct.n_terms)
        state = self._state_cache.get(key)
        if state is not None:
            self._state_cache.move_to_end(key)
            return state
        state = self._base_state.copy()
        for record in self._records[:n]:
            record.apply(state)
        blocked = np.zeros(self.struct.n_terms, np.bool_)
        for i in active:
            blocked[self._negative_mask(self._negatives[i])] = True
        state.term_blocked = blocked
        self._state_cache[key] = state
        while len(self._state_cache) > 32:
            self._state_cache.popitem(last=False)
        return state

    def _negative_mask(self, neg: Negative) -> NDArray[np.int64]:
        key = (neg.criterion_id, self.struct.n_terms)
        mask = self._mask_cache.get(key)
        if mask is None:
            st = self.struct
            scope = st.term_ad_group if neg.level == "ad_group" else st.term_campaign
            candidates = np.flatnonzero(scope == neg.parent)
            mask = np.array(
                [
                    t
                    for t in candidates.tolist()
                    if negative_matches(neg.text, neg.match, st.term_text[t])
                ],
                dtype=np.int64,
            )
            self._mask_cache[key] = mask
        return mask

    # ------------------------------------------------------------------ checkpoints and caches
    def _checkpoint(self) -> _Checkpoint:
        struct = copy.copy(self.struct)
        for name, value in vars(self.struct).items():
            if isinstance(value, list):
                setattr(struct, name, list(value))
        return _Checkpoint(
            struct=struct,
            base_state=copy.copy(self._base_state),
            records=list(self._records),
            changes=list(self._changes),
            negatives=[replace(n) for n in self._negatives],
            created=dict(self._created),
            pending={k: replace(v) for k, v in self._pending_budgets.items()},
            seq=self._seq,
        )

    def _restore(self, cp: _Checkpoint) -> None:
        self.struct = cp.struct
        self._base_state = cp.base_state
        self._records = cp.records
        self._changes = cp.changes
        self._negatives = cp.negatives
        self._created = cp.created
        self._pending_budgets = cp.pending
        self._seq = cp.seq
        self._id_maps.clear()

    def _invalidate(self, ordinal: int, *, structural: bool) -> None:
        self._state_cache.clear()
        self._snap_cache.clear()
        self._partial_cache.clear()
        if structural:
            self._ctx_cache.clear()
            self._day_cache.clear()
            self._id_maps.clear()
        else:
            for day in [d for d in self._day_cache if d >= ordinal]:
                del self._day_cache[day]
        self.version += 1

    # ------------------------------------------------------------------ lookups
    def _id_map(self, kind: str) -> dict[Any, int]:
        """Entity index by id; keywords by (ad group index, criterion id), since Google shares
        a keyword's criterion id across the ad groups that hold it."""
        m = self._id_maps.get(kind)
        if m is None:
            st = self.struct
            if kind == "keyword":
                pairs = zip(st.keyword_ad_group.tolist(), st.keyword_id.tolist(), strict=True)
                m = self._id_maps[kind] = {(int(g), int(c)): i for i, (g, c) in enumerate(pairs)}
                return m
            ids = {
                "campaign": st.campaign_id,
                "budget": st.campaign_budget_id,
                "ad_group": st.ad_group_id,
                "ad": st.ad_id,
            }[kind]
            m = self._id_maps[kind] = {int(v): i for i, v in enumerate(ids.tolist())}
        return m

    def _find(self, batch: _Batch, kind: str, entity_id: Any, rn: str) -> int:
        """The entity's index (keywords: ``entity_id`` is (ad group index, criterion id))."""
        idx = self._id_map(kind).get(entity_id)
        owner = None
        if idx is not None:
            owner = {
                "campaign": self.struct.campaign_account,
                "budget": self.struct.campaign_account,
                "ad_group": self.struct.ad_group_account,
                "keyword": self.struct.keyword_account,
                "ad": self.struct.ad_account,
            }[kind][idx]
            created_kind = "campaign" if kind == "budget" else kind
            if self._created[created_kind][idx] > batch.ordinal:
                idx = None
        if idx is None or owner != batch.account:
            raise fail("mutate_error", "RESOURCE_NOT_FOUND", f"{rn} was not found", "resource_name")
        return idx

    def _resolve(
        self, batch: _Batch, rn: Any, collection: str, path: str
    ) -> tuple[int, int | None]:
        rn = batch.temp.get(str(rn), str(rn))
        cid, coll, first, second = parse_resource_name(rn)
        if coll != collection:
            raise fail(
                "request_error",
                "RESOURCE_NAME_MALFORMED",
                f"{rn} is not a {collection} resource name",
                path,
            )
        if cid != batch.customer_id:
            raise fail(
                "mutate_error", "RESOURCE_NOT_FOUND", f"{rn} belongs to another customer", path
            )
        return first, second

    def _rn(self, batch: _Batch, collection: str, *ids: int) -> str:
        return f"customers/{batch.customer_id}/{collection}/" + "~".join(str(i) for i in ids)

    # ------------------------------------------------------------------ recording
    def _record(self, batch: _Batch, fn: Any) -> None:
        self._seq += 1
        record = Record(batch.ordinal, self._seq, fn, batch.hour)
        keys = [r.key for r in self._records]
        self._records.insert(bisect.bisect_right(keys, record.key), record)

    def _log(
        self,
        batch: _Batch,
        resource: str,
        rn: str,
        operation: str,
        fields: Sequence[str],
        old: dict[str, Any],
        new: dict[str, Any],
        campaign: int | None = None,
        ad_group: int | None = None,
    ) -> None:
        st = self.struct
        self._seq += 1
        self._changes.append(
            Change(
                seq=self._seq,
                as_of=batch.as_of,
                customer_id=batch.customer_id,
                resource=resource,
                resource_name=rn,
                operation=operation,
                changed_fields=tuple(fields),
                client_type=batch.client_type,
                user_email=batch.user_email,
                campaign_rn=None
                if campaign is None
                else self._rn(batch, "campaigns", int(st.campaign_id[campaign])),
                ad_group_rn=None
                if ad_group is None
                else self._rn(batch, "adGroups", int(st.ad_group_id[ad_group])),
                old=old,
                new=new,
            )
        )

    def _now(self, batch: _Batch) -> State:
        """The state as the batch sees it (including its own earlier operations)."""
        return self._state_for(batch.ordinal, batch.hour)

    # ------------------------------------------------------------------ dispatch
    def _apply_one(self, batch: _Batch, op: Mutation) -> str:
        if op.resource not in RESOURCES:
            raise fail(
                "request_error", "OPERATION_REQUIRED", f"unsupported resource {op.resource!r}"
            )
        if op.action not in ("create", "update", "remove"):
            raise fail(
                "request_error", "OPERATION_REQUIRED", f"unsupported operation {op.action!r}"
            )
        handler = getattr(self, f"_op_{op.resource}")
        result: str = handler(batch, op)
        self._state_cache.clear()
        return result

    # ------------------------------------------------------------------ campaign budgets
    def _op_campaign_budget(self, batch: _Batch, op: Mutation) -> str:
        if op.action == "create":
            amount = check_budget(op.values.get("amount_micros"), batch.unit)
            if op.values.get("explicitly_shared"):
                raise fail(
                    "campaign_budget_error",
                    "CAMPAIGN_BUDGET_CANNOT_BE_SHARED",
                    "shared budgets are not simulated",
                    "explicitly_shared",
                )
            name = " ".join(str(op.values.get("name") or "").split())
            if name:
                self._check_budget_name(batch, name)
            existing = [*self.struct.campaign_budget_id.tolist(), *self._pending_budgets]
            budget_id = max(existing, default=30_000_000_000) + 7
            self._pending_budgets[budget_id] = PendingBudget(
                budget_id, batch.account, amount, name, created=batch.ordinal
            )
            rn = self._rn(batch, "campaignBudgets", budget_id)
            self._temp(batch, op, rn)
            self._log(
                batch,
                "campaign_budget",
                rn,
                "CREATE",
                ["amount_micros"],
                {},
                {"amount_micros": amount},
            )
            return rn
        budget_id, _ = self._resolve(batch, op.resource_name, "campaignBudgets", "resource_name")
        pending = self._pending_budgets.get(budget_id)
        if pending is not None and pending.account == batch.account and not pending.removed:
            if op.action == "remove":
                pending.removed = True
                return op.resource_name
            paths = check_update_mask(op)
            if "amount_micros" in paths:
                pending.amount = check_budget(op.values.get("amount_micros"), batch.unit)
            if "name" in paths:
                name = " ".join(str(op.values.get("name") or "").split())
                if name and name != pending.name:
                    self._check_budget_name(batch, name)
                pending.name = name
            return op.resource_name
        c = self._find(batch, "budget", budget_id, op.resource_name)
        state = self._now(batch)
        if op.action == "remove":
            if state.campaign_status[c] != REMOVED:
                raise fail(
                    "campaign_budget_error",
                    "CAMPAIGN_BUDGET_IN_USE",
                    "the budget is used by a campaign",
                    "resource_name",
                )
            return op.resource_name
        paths = check_update_mask(op)
        if "amount_micros" in paths:
            amount = check_budget(op.values.get("amount_micros"), batch.unit)
            old = int(state.campaign_budget[c])

            def set_budget(s: State, c: int = c, amount: int = amount) -> None:
                s.campaign_budget[c] = amount

            self._record(batch, set_budget)
            self._log(
                batch,
                "campaign_budget",
                op.resource_name,
                "UPDATE",
                ["amount_micros"],
                {"amount_micros": old},
                {"amount_micros": amount},
                campaign=c,
            )
        return op.resource_name

    def _check_budget_name(self, batch: _Batch, name: str) -> None:
        """campaign_budget_error.DUPLICATE_NAME: a budget name is unique among the account's
        budgets that are not removed — those waiting for a campaign, and those serving one,
        whose name derives from their campaign's (``Budget | <campaign name>``)."""
        st = self.struct
        state = self._now(batch)
        taken = {
            b.name
            for b in self._pending_budgets.values()
            if b.account == batch.account and not b.removed and b.name
        }
        taken |= {
            budget_name(st.campaign_name[i])
            for i in np.flatnonzero(st.campaign_account == batch.account).tolist()
            if state.campaign_status[i] != REMOVED
        }
        if name in taken:
            raise fail(
                "campaign_budget_error",
                "DUPLICATE_NAME",
                f"a campaign budget named {name!r} already exists",
                "name",
            )

    def _pending_budget_rows(self, account: int, as_of: dt.date) -> list[dict[str, Any]]:
        """GAQL rows of budgets no campaign uses yet: Google lists them too (a crashed launch
        finds the budget it created by its name)."""
        cid = int(self.struct.customer_id[account])
        ordinal = as_of.toordinal()
        return [
            {
                "customer.id": cid,
                "campaign_budget.id": b.budget_id,
                "campaign_budget.name": b.name,
                "campaign_budget.amount_micros": b.amount,
                "campaign_budget.resource_name": f"customers/{cid}/campaignBudgets/{b.budget_id}",
                "campaign_budget.status": "REMOVED" if b.removed else "ENABLED",
                "campaign_budget.delivery_method": "STANDARD",
                "campaign_budget.period": "DAILY",
                "campaign_budget.explicitly_shared": False,
            }
            for b in self._pending_budgets.values()
            if b.account == account and b.created <= ordinal
        ]

    def _temp(self, batch: _Batch, op: Mutation, rn: str) -> None:
        given = op.values.get("resource_name")
        if given:
            try:
                _, _, first, second = parse_resource_name(str(given))
            except MutationError:
                return
            if first < 0 or (second is not None and second < 0):
                batch.temp[str(given)] = rn

    # ------------------------------------------------------------------ campaigns
    def _op_campaign(self, batch: _Batch, op: Mutation) -> str:
        st = self.struct
        if op.action == "create":
            return self._create_campaign(batch, op)
        campaign_id, _ = self._resolve(batch, op.resource_name, "campaigns", "resource_name")
        c = self._find(batch, "campaign", campaign_id, op.resource_name)
        state = self._now(batch)
        if state.campaign_status[c] == REMOVED:
            raise fail(
                "operation_access_denied_error",
                "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
                "the campaign is removed",
                "resource_name",
            )
        if op.action == "remove":
            old = int(state.campaign_status[c])

            def remove(s: State, c: int = c) -> None:
                s.campaign_status[c] = REMOVED

            self._record(batch, remove)
            self._log(
                batch,
                "campaign",
                op.resource_name,
                "REMOVE",
                ["status"],
                {"status": _status(old)},
                {"status": "REMOVED"},
                campaign=c,
            )
            return op.resource_name
        paths = check_update_mask(op)
        edits: list[tuple[str, Any, Any]] = []
        if "status" in paths:
            edits.append(
                (
                    "status",
                    _status(int(state.campaign_status[c])),
                    status_code(op.values.get("status")),
                )
            )
        if "name" in paths:
            name = str(op.values.get("name") or "").strip()
            if not name:
                raise fail(
                    "campaign_error", "INVALID_CAMPAIGN_NAME", "campaign name is empty", "name"
                )
            others = [
                st.campaign_name[i]
                for i in np.flatnonzero(st.campaign_account == batch.account).tolist()
                if i != c
            ]
            if name in others:
                raise fail(
                    "campaign_error",
                    "DUPLICATE_CAMPAIGN_NAME",
                    f"campaign name {name!r} is taken",
                    "name",
                )
            edits.append(("name", st.campaign_name[c], name))
        if "target_cpa.target_cpa_micros" in paths:
            tcpa = check_bid(
                op.values.get("target_cpa.target_cpa_micros"),
                "target_cpa.target_cpa_micros",
                batch.unit,
            )
            edits.append(("target_cpa.target_cpa_micros", int(state.campaign_target_cpa[c]), tcpa))
        if "target_roas.target_roas" in paths:
            troas = check_roas(op.values.get("target_roas.target_roas"))
            edits.append(("target_roas.target_roas", float(state.campaign_target_roas[c]), troas))
        if "manual_cpc.enhanced_cpc_enabled" in paths:
            edits.append(
                ("bidding_strategy_type", _bidding(int(state.campaign_bidding[c])), MANUAL_CPC)
            )
        if "campaign_budget" in paths:
            raise fail(
                "campaign_error",
                "CANNOT_CHANGE_BUDGET_ON_CAMPAIGN_WITH_TRIALS",
                "moving campaigns between budgets is not simulated",
                "campaign_budget",
            )
        for name, _old, new in edits:
            if name == "name":
                st.campaign_name[c] = new
                continue

            def apply(s: State, c: int = c, name: str = name, new: Any = new) -> None:
                if name == "status":
                    s.campaign_status[c] = new
                elif name == "target_cpa.target_cpa_micros":
                    # setting one member of the bidding oneof is the strategy (as on Google)
                    s.campaign_target_cpa[c] = new
                    s.campaign_bidding[c] = TARGET_CPA
                elif name == "target_roas.target_roas":
                    s.campaign_target_roas[c] = new
                    s.campaign_bidding[c] = TARGET_ROAS
                elif name == "bidding_strategy_type":
                    s.campaign_bidding[c] = MANUAL_CPC

            self._record(batch, apply)
        if edits:
            self._log(
                batch,
                "campaign",
                op.resource_name,
                "UPDATE",
                [e[0] for e in edits],
                {e[0]: e[1] for e in edits},
                {
                    e[0]: (
                        _status(e[2])
                        if e[0] == "status"
                        else _bidding(e[2])
                        if e[0] == "bidding_strategy_type"
                        else e[2]
                    )
                    for e in edits
                },
                campaign=c,
            )
        return op.resource_name

    def _create_campaign(self, batch: _Batch, op: Mutation) -> str:
        st = self.struct
        v = op.values
        name = str(v.get("name") or "").strip()
        if not name:
            raise fail("field_error", "REQUIRED", "campaign name is required", "name")
        channel = v.get("advertising_channel_type", "SEARCH")
        if channel not in ("SEARCH", 2):
            raise fail(
                "operation_access_denied_error",
                "OPERATION_NOT_PERMITTED_FOR_CAMPAIGN_TYPE",
                "the sandbox simulates Search campaigns only",
                "advertising_channel_type",
            )
        mine = np.flatnonzero(st.campaign_account == batch.account)
        state = self._now(batch)
        live = [
            i
            for i in mine.tolist()
            if state.campaign_status[i] != REMOVED and self._created["campaign"][i] <= batch.ordinal
        ]
        if name in {st.campaign_name[i] for i in live}:
            raise fail(
                "campaign_error",
                "DUPLICATE_CAMPAIGN_NAME",
                f"campaign name {name!r} is taken",
                "name",
            )
        if len(live) >= self.scenario.limits.campaigns_per_account:
            raise fail(
                "resource_count_limit_exceeded_error",
                "ACCOUNT_LIMIT",
                f"the account has {len(live)} campaigns (limit {self.scenario.limits.campaigns_per_account})",
            )
        budget_rn = v.get("campaign_budget")
        if not budget_rn:
            raise fail("field_error", "REQUIRED", "campaign_budget is required", "campaign_budget")
        budget_id, _ = self._resolve(batch, budget_rn, "campaignBudgets", "campaign_budget")
        pending = self._pending_budgets.get(budget_id)
        if pending is None or pending.account != batch.account or pending.removed:
            if budget_id in self._id_map("budget"):
                raise fail(
                    "campaign_budget_error",
                    "CANNOT_USE_IMPLICITLY_SHARED_CAMPAIGN_BUDGET_WITH_MULTIPLE_CAMPAIGNS",
                    "the budget already serves a campaign",
                    "campaign_budget",
                )
            raise fail(
                "mutate_error",
                "RESOURCE_NOT_FOUND",
                f"{budget_rn} was not found",
                "campaign_budget",
            )
        status = status_code(v.get("status", "PAUSED"))
        tcpa = v.get("target_cpa.target_cpa_micros")
        troas = v.get("target_roas.target_roas")
        bidding = TARGET_CPA if tcpa is not None else TARGET_ROAS if troas else MANUAL_CPC
        tcpa_micros = (
            check_bid(tcpa, "target_cpa.target_cpa_micros", batch.unit) if tcpa is not None else 0
        )
        troas_ratio = check_roas(troas) if bidding == TARGET_ROAS else 0.0
        c = append_campaign(
            st, account=batch.account, name=name, budget_id=budget_id, bidding=bidding
        )
        del self._pending_budgets[budget_id]
        self._grow("campaign", batch.ordinal)
        s = self._base_state
        s.campaign_status = np.append(s.campaign_status, np.int8(status))
        s.campaign_budget = np.append(s.campaign_budget, np.int64(pending.amount))
        s.campaign_bidding = np.append(s.campaign_bidding, np.int8(bidding))
        s.campaign_target_cpa = np.append(s.campaign_target_cpa, np.int64(tcpa_micros))
        s.campaign_target_roas = np.append(s.campaign_target_roas, np.float64(troas_ratio))
        batch.structural = True
        rn = self._rn(batch, "campaigns", int(st.campaign_id[c]))
        self._temp(batch, op, rn)
        self._log(
            batch,
            "campaign",
            rn,
            "CREATE",
            ["name", "status"],
            {},
            {"name": name, "status": _status(status)},
            campaign=c,
        )
        return rn

    def _grow(self, kind: str, ordinal: int) -> None:
        self._created[kind] = np.append(self._created[kind], np.int64(ordinal))
        self._id_maps.clear()

    # ------------------------------------------------------------------ ad groups
    def _op_ad_group(self, batch: _Batch, op: Mutation) -> str:
        st = self.struct
        if op.action == "create":
            v = op.values
            camp_id, _ = self._resolve(batch, v.get("campaign", ""), "campaigns", "campaign")
            c = self._find(batch, "campaign", camp_id, str(v.get("campaign")))
            name = str(v.get("name") or "").strip()
            if not name:
                raise fail(
                    "ad_group_error", "MISSING_ADGROUP_NAME", "ad group name is required", "name"
                )
            state = self._now(batch)
            groups = [
                g
                for g in np.flatnonzero(st.ad_group_campaign == c).tolist()
                if state.ad_group_status[g] != REMOVED
                and self._created["ad_group"][g] <= batch.ordinal
            ]
            if name in {st.ad_group_name[g] for g in groups}:
                raise fail(
                    "ad_group_error",
                    "DUPLICATE_ADGROUP_NAME",
                    f"ad group name {name!r} is taken",
                    "name",
                )
            if len(groups) >= self.scenario.limits.ad_groups_per_campaign:
                raise fail(
                    "resource_count_limit_exceeded_error",
                    "CAMPAIGN_LIMIT",
                    f"the campaign has {len(groups)} ad groups (limit {self.scenario.limits.ad_groups_per_campaign})",
                )
            bid = check_bid(v.get("cpc_bid_micros", 1_000_000), "cpc_bid_micros", batch.unit)
            status = status_code(v.get("status", "ENABLED"))
            g = append_ad_group(st, campaign=c, name=name, bid=bid)
            self._grow("ad_group", batch.ordinal)
            s = self._base_state
            s.ad_group_status = np.append(s.ad_group_status, np.int8(status))
            s.ad_group_bid = np.append(s.ad_group_bid, np.int64(bid))
            batch.structural = True
            rn = self._rn(batch, "adGroups", int(st.ad_group_id[g]))
            self._temp(batch, op, rn)
            self._log(
                batch,
                "ad_group",
                rn,
                "CREATE",
                ["name", "status", "cpc_bid_micros"],
                {},
                {"name": name, "status": _status(status), "cpc_bid_micros": bid},
                campaign=c,
                ad_group=g,
            )
            return rn
        group_id, _ = self._resolve(batch, op.resource_name, "adGroups", "resource_name")
        g = self._find(batch, "ad_group", group_id, op.resource_name)
        c = int(st.ad_group_campaign[g])
        state = self._now(batch)
        if state.ad_group_status[g] == REMOVED:
            raise fail(
                "operation_access_denied_error",
                "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
                "the ad group is removed",
                "resource_name",
            )
        if op.action == "remove":
            old_status = _status(int(state.ad_group_status[g]))

            def remove(s: State, g: int = g) -> None:
                s.ad_group_status[g] = REMOVED

            self._record(batch, remove)
            self._log(
                batch,
                "ad_group",
                op.resource_name,
                "REMOVE",
                ["status"],
                {"status": old_status},
                {"status": "REMOVED"},
                campaign=c,
                ad_group=g,
            )
            return op.resource_name
        paths = check_update_mask(op)
        old: dict[str, Any] = {}
        new: dict[str, Any] = {}
        if "status" in paths:
            code = status_code(op.values.get("status"))
            old["status"], new["status"] = _status(int(state.ad_group_status[g])), _status(code)

            def set_status(s: State, g: int = g, code: int = code) -> None:
                s.ad_group_status[g] = code

            self._record(batch, set_status)
        if "cpc_bid_micros" in paths:
            bid = check_bid(op.values.get("cpc_bid_micros"), "cpc_bid_micros", batch.unit)
            old["cpc_bid_micros"], new["cpc_bid_micros"] = int(state.ad_group_bid[g]), bid

            def set_bid(s: State, g: int = g, bid: int = bid) -> None:
                s.ad_group_bid[g] = bid

            self._record(batch, set_bid)
        if "name" in paths:
            name = str(op.values.get("name") or "").strip()
            if not name:
                raise fail(
                    "ad_group_error", "INVALID_ADGROUP_NAME", "ad group name is empty", "name"
                )
            old["name"], new["name"] = st.ad_group_name[g], name
            st.ad_group_name[g] = name
        if new:
            self._log(
                batch,
                "ad_group",
                op.resource_name,
                "UPDATE",
                list(new),
                old,
                new,
                campaign=c,
                ad_group=g,
            )
        return op.resource_name

    # ------------------------------------------------------------------ ad group criteria
    def _op_ad_group_criterion(self, batch: _Batch, op: Mutation) -> str:
        st = self.struct
        if op.action == "create":
            v = op.values
            group_id, _ = self._resolve(batch, v.get("ad_group", ""), "adGroups", "ad_group")
            g = self._find(batch, "ad_group", group_id, str(v.get("ad_group")))
            c = int(st.ad_group_campaign[g])
            text = check_keyword_text(v.get("keyword.text"))
            match = match_code(v.get("keyword.match_type"))
            if v.get("negative"):
                return self._create_negative(batch, op, "ad_group", g, text, match)
            state = self._now(batch)
            live = [
                k
                for k in np.flatnonzero(st.keyword_ad_group == g).tolist()
                if state.keyword_status[k] != REMOVED
                and self._created["keyword"][k] <= batch.ordinal
            ]
            if any(st.keyword_text[k] == text and st.keyword_match[k] == match for k in live):
                raise fail(
                    "mutate_error",
                    "RESOURCE_ALREADY_EXISTS",
                    f"keyword [{text}] {MATCH_TYPES[match]} already exists in the ad group",
                    "keyword.text",
                )
            if len(live) >= self.scenario.limits.keywords_per_ad_group:
                raise fail(
                    "resource_count_limit_exceeded_error",
                    "ADGROUP_LIMIT",
                    f"the ad group has {len(live)} keywords (limit {self.scenario.limits.keywords_per_ad_group})",
                )
            in_account = int(
                np.count_nonzero(
                    (st.keyword_account == batch.account) & (state.keyword_status != REMOVED)
                )
            )
            if in_account >= self.scenario.limits.criteria_per_account:
                raise fail(
                    "resource_count_limit_exceeded_error",
                    "ACCOUNT_LIMIT",
                    f"the account has {in_account} ad group criteria",
                )
            bid = (
                check_bid(v["cpc_bid_micros"], "cpc_bid_micros", batch.unit)
                if v.get("cpc_bid_micros")
                else 0
            )
            status = status_code(v.get("status", "ENABLED"))
            k = append_keyword(st, self.scenario, ad_group=g, text=text, match=match, bid=bid)
            self._grow("keyword", batch.ordinal)
            s = self._base_state
            s.keyword_status = np.append(s.keyword_status, np.int8(status))
            s.keyword_bid = np.append(s.keyword_bid, np.int64(bid))
            batch.structural = True
            rn = self._rn(batch, "adGroupCriteria", int(st.ad_group_id[g]), int(st.keyword_id[k]))
            self._temp(batch, op, rn)
            self._log(
                batch,
                "ad_group_criterion",
                rn,
                "CREATE",
                ["keyword.text", "keyword.match_type", "status"],
                {},
                {
                    "keyword.text": text,
                    "keyword.match_type": MATCH_TYPES[match],
                    "status": _status(status),
                },
                campaign=c,
                ad_group=g,
            )
            return rn
        group_id, crit_id = self._resolve(
            batch, op.resource_name, "adGroupCriteria", "resource_name"
        )
        if crit_id is None:
            raise fail(
                "request_error",
                "RESOURCE_NAME_MALFORMED",
                f"{op.resource_name} needs ad_group_id~criterion_id",
                "resource_name",
            )
        g = self._find(batch, "ad_group", group_id, op.resource_name)
        neg = self._find_negative(batch, "ad_group", g, crit_id)
        if neg is not None:
            if op.action == "update":
                raise fail(
                    "ad_group_criterion_error",
                    "CANT_UPDATE_NEGATIVE",
                    "negative criteria cannot be updated",
                    "resource_name",
                )
            return self._remove_negative(batch, op, neg)
        k = self._find(batch, "keyword", (g, crit_id), op.resource_name)
        c = int(st.ad_group_campaign[g])
        state = self._now(batch)
        if state.keyword_status[k] == REMOVED:
            raise fail(
                "operation_access_denied_error",
                "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
                "the keyword is removed",
                "resource_name",
            )
        if op.action == "remove":
            old = _status(int(state.keyword_status[k]))

            def remove(s: State, k: int = k) -> None:
                s.keyword_status[k] = REMOVED

            self._record(batch, remove)
            self._log(
                batch,
                "ad_group_criterion",
                op.resource_name,
                "REMOVE",
                ["status"],
                {"status": old},
                {"status": "REMOVED"},
                campaign=c,
                ad_group=g,
            )
            return op.resource_name
        paths = check_update_mask(op)
        old_v: dict[str, Any] = {}
        new_v: dict[str, Any] = {}
        if "status" in paths:
            code = status_code(op.values.get("status"))
            old_v["status"], new_v["status"] = _status(int(state.keyword_status[k])), _status(code)

            def set_status(s: State, k: int = k, code: int = code) -> None:
                s.keyword_status[k] = code

            self._record(batch, set_status)
        if "cpc_bid_micros" in paths:
            raw = op.values.get("cpc_bid_micros")
            bid = 0 if raw in (None, 0) else check_bid(raw, "cpc_bid_micros", batch.unit)
            old_v["cpc_bid_micros"], new_v["cpc_bid_micros"] = int(state.keyword_bid[k]), bid

            def set_bid(s: State, k: int = k, bid: int = bid) -> None:
                s.keyword_bid[k] = bid

            self._record(batch, set_bid)
        if new_v:
            self._log(
                batch,
                "ad_group_criterion",
                op.resource_name,
                "UPDATE",
                list(new_v),
                old_v,
                new_v,
                campaign=c,
                ad_group=g,
            )
        return op.resource_name

    # ------------------------------------------------------------------ negatives
    def _find_negative(
        self, batch: _Batch, level: str, parent: int, crit_id: int
    ) -> Negative | None:
        for neg in self._negatives:
            if (
                neg.criterion_id == crit_id
                and neg.level == level
                and neg.parent == parent
                and neg.created <= batch.ordinal
            ):
                return neg
        return None

    def _create_negative(
        self, batch: _Batch, op: Mutation, level: str, parent: int, text: str, match: int
    ) -> str:
        st = self.struct
        live = [
            n
            for n in self._negatives
            if n.level == level and n.parent == parent and n.active(batch.ordinal)
        ]
        if any(n.text == text and n.match == match for n in live):
            raise fail(
                "mutate_error",
                "RESOURCE_ALREADY_EXISTS",
                f"negative [{text}] {MATCH_TYPES[match]} already exists",
                "keyword.text",
            )
        campaign = parent if level == "campaign" else int(st.ad_group_campaign[parent])
        if level == "campaign" and len(live) >= self.scenario.limits.negatives_per_campaign:
            raise fail(
                "resource_count_limit_exceeded_error",
                "CAMPAIGN_LIMIT",
                f"the campaign has {len(live)} negative keywords (limit {self.scenario.limits.negatives_per_campaign})",
            )
        ids = [n.criterion_id for n in self._negatives]
        crit_id = max([*ids, int(next_id(st.keyword_id, 13)) + 500_000_000]) + 13
        neg = Negative(crit_id, level, parent, batch.account, text, match, batch.ordinal)
        self._negatives.append(neg)
        if level == "campaign":
            rn = self._rn(batch, "campaignCriteria", int(st.campaign_id[parent]), crit_id)
            self._log(
                batch,
                "campaign_criterion",
                rn,
                "CREATE",
                ["keyword.text", "keyword.match_type", "negative"],
                {},
                {"keyword.text": text, "keyword.match_type": MATCH_TYPES[match], "negative": True},
                campaign=campaign,
            )
        else:
            rn = self._rn(batch, "adGroupCriteria", int(st.ad_group_id[parent]), crit_id)
            self._log(
                batch,
                "ad_group_criterion",
                rn,
                "CREATE",
                ["keyword.text", "keyword.match_type", "negative"],
                {},
                {"keyword.text": text, "keyword.match_type": MATCH_TYPES[match], "negative": True},
                campaign=campaign,
                ad_group=parent,
            )
        self._temp(batch, op, rn)
        return rn

    def _remove_negative(self, batch: _Batch, op: Mutation, neg: Negative) -> str:
        if not neg.active(batch.ordinal):
            raise fail(
                "operation_access_denied_error",
                "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
                "the negative keyword is removed",
                "resource_name",
            )
        neg.removed = batch.ordinal
        st = self.struct
        campaign = neg.parent if neg.level == "campaign" else int(st.ad_group_campaign[neg.parent])
        self._log(
            batch,
            f"{neg.level}_criterion",
            op.resource_name,
            "REMOVE",
            ["status"],
            {"status": "ENABLED"},
            {"status": "REMOVED"},
            campaign=campaign,
            ad_group=neg.parent if neg.level == "ad_group" else None,
        )
        return op.resource_name

    def _op_campaign_criterion(self, batch: _Batch, op: Mutation) -> str:
        if op.action == "create":
            v = op.values
            camp_id, _ = self._resolve(batch, v.get("campaign", ""), "campaigns", "campaign")
            c = self._find(batch, "campaign", camp_id, str(v.get("campaign")))
            if not v.get("negative"):
                raise fail(
                    "criterion_error",
                    "CANNOT_ADD_CRITERIA_TYPE",
                    "only negative keywords can be added to a Search campaign",
                    "negative",
                )
            text = check_keyword_text(v.get("keyword.text"))
            match = match_code(v.get("keyword.match_type"))
            return self._create_negative(batch, op, "campaign", c, text, match)
        camp_id, crit_id = self._resolve(
            batch, op.resource_name, "campaignCriteria", "resource_name"
        )
        c = self._find(batch, "campaign", camp_id, op.resource_name)
        if op.action == "update":
            raise fail(
                "campaign_criterion_error",
                "CANNOT_UPDATE_NEGATIVE_CRITERION",
                "negative criteria cannot be updated",
                "resource_name",
            )
        neg = self._find_negative(batch, "campaign", c, crit_id or -1)
        if neg is None:
            raise fail(
                "mutate_error",
                "RESOURCE_NOT_FOUND",
                f"{op.resource_name} was not found",
                "resource_name",
            )
        return self._remove_negative(batch, op, neg)

    # ------------------------------------------------------------------ ads
    def _enabled_ads(self, batch: _Batch, g: int, state: State) -> int:
        ads = np.flatnonzero(self.struct.ad_ad_group == g)
        return int(
            sum(
                1
                for a in ads.tolist()
                if state.ad_status[a] == ENABLED and self._created["ad"][a] <= batch.ordinal
            )
        )

    def _op_ad_group_ad(self, batch: _Batch, op: Mutation) -> str:
        st = self.struct
        limit = self.scenario.limits.enabled_rsas_per_ad_group
        if op.action == "create":
            v = op.values
            group_id, _ = self._resolve(batch, v.get("ad_group", ""), "adGroups", "ad_group")
            g = self._find(batch, "ad_group", group_id, str(v.get("ad_group")))
            heads = [_text(h) for h in v.get("ad.responsive_search_ad.headlines") or []]
            descs = [_text(d) for d in v.get("ad.responsive_search_ad.descriptions") or []]
            urls = [str(u) for u in v.get("ad.final_urls") or []]
            if not 3 <= len(heads) <= 15:
                raise fail(
                    "ad_error",
                    "INVALID_NUMBER_OF_ELEMENTS",
                    "an RSA needs 3 to 15 headlines",
                    "ad.responsive_search_ad.headlines",
                )
            if not 2 <= len(descs) <= 4:
                raise fail(
                    "ad_error",
                    "INVALID_NUMBER_OF_ELEMENTS",
                    "an RSA needs 2 to 4 descriptions",
                    "ad.responsive_search_ad.descriptions",
                )
            for i, h in enumerate(heads):
                if not h or len(h) > 30:
                    raise fail(
                        "string_length_error",
                        "TOO_LONG" if h else "EMPTY",
                        f"headline {i} must be 1-30 characters",
                        "ad.responsive_search_ad.headlines",
                    )
            for i, d in enumerate(descs):
                if not d or len(d) > 90:
                    raise fail(
                        "string_length_error",
                        "TOO_LONG" if d else "EMPTY",
                        f"description {i} must be 1-90 characters",
                        "ad.responsive_search_ad.descriptions",
                    )
            if not urls:
                raise fail(
                    "ad_error",
                    "CANNOT_SET_WITHOUT_FINAL_URLS",
                    "an RSA needs a final URL",
                    "ad.final_urls",
                )
            status = status_code(v.get("status", "ENABLED"))
            state = self._now(batch)
            if status == ENABLED and self._enabled_ads(batch, g, state) >= limit:
                raise fail(
                    "resource_count_limit_exceeded_error",
                    "AD_GROUP_AD_LIMIT",
                    f"the ad group already has {limit} enabled responsive search ads",
                )
            a = append_ad(st, ad_group=g, headlines=heads, descriptions=descs, final_urls=urls)
            self._grow("ad", batch.ordinal)
            self._base_state.ad_status = np.append(self._base_state.ad_status, np.int8(status))
            batch.structural = True
            rn = self._rn(batch, "adGroupAds", int(st.ad_group_id[g]), int(st.ad_id[a]))
            self._temp(batch, op, rn)
            self._log(
                batch,
                "ad_group_ad",
                rn,
                "CREATE",
                ["status"],
                {},
                {"status": _status(status)},
                campaign=int(st.ad_group_campaign[g]),
                ad_group=g,
            )
            return rn
        group_id, ad_id = self._resolve(batch, op.resource_name, "adGroupAds", "resource_name")
        g = self._find(batch, "ad_group", group_id, op.resource_name)
        a = self._find(batch, "ad", ad_id if ad_id is not None else -1, op.resource_name)
        if int(st.ad_ad_group[a]) != g:
            raise fail(
                "ad_group_ad_error",
                "AD_NOT_UNDER_ADGROUP",
                "the ad is not in that ad group",
                "resource_name",
            )
        state = self._now(batch)
        if state.ad_status[a] == REMOVED:
            raise fail(
                "ad_group_ad_error",
                "CANNOT_OPERATE_ON_REMOVED_ADGROUPAD",
                "the ad is removed",
                "resource_name",
            )
        old = _status(int(state.ad_status[a]))
        if op.action == "remove":
            code = REMOVED
        else:
            paths = check_update_mask(op)
            if paths != ("status",) and "status" not in paths:
                raise fail(
                    "field_error",
                    "IMMUTABLE_FIELD",
                    "only the status of an ad group ad can change",
                    paths[0],
                )
            code = status_code(op.values.get("status"))
            if (
                code == ENABLED
                and state.ad_status[a] != ENABLED
                and self._enabled_ads(batch, g, state) >= limit
            ):
                raise fail(
                    "resource_count_limit_exceeded_error",
                    "AD_GROUP_AD_LIMIT",
                    f"the ad group already has {limit} enabled responsive search ads",
                )

        def set_status(s: State, a: int = a, code: int = code) -> None:
            s.ad_status[a] = code

        self._record(batch, set_status)
        self._log(
            batch,
            "ad_group_ad",
            op.resource_name,
            "REMOVE" if code == REMOVED else "UPDATE",
            ["status"],
            {"status": old},
            {"status": _status(code)},
            campaign=int(st.ad_group_campaign[g]),
            ad_group=g,
        )
        return op.resource_name


def budget_name(campaign_name: str) -> str:
    """The name a campaign's own (not explicitly shared) budget derives from the campaign."""
    return f"Budget | {campaign_name}"


def _status(code: int) -> str:
    return ("ENABLED", "PAUSED", "REMOVED")[code]


def _bidding(code: int) -> str:
    return BIDDING[code]


def _text(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("text", "")).strip()
    return str(getattr(item, "text", item)).strip()


__all__ = [
    "DEFAULT_CLIENT",
    "budget_name",
    "DEFAULT_USER",
    "UPDATABLE",
    "Editing",
    "Negative",
    "PendingBudget",
]
