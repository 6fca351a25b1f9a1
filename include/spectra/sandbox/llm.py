"""The LLM stand-in: a small HTTP server speaking Gemini's ``generateContent`` and
``countTokens`` REST shapes, answering deterministically from the evidence in the prompt.

The real ``google-genai`` client talks to it through ``http_options.base_url``; both the Vertex
AI path (``/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent``) and
the Gemini API path (``/v1beta/models/{m}:generateContent``) are served. Request and response
shapes follow https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/
projects.locations.publishers.models/generateContent (``candidates``, ``usageMetadata`` with
``promptTokenCount``, ``candidatesTokenCount``, ``thoughtsTokenCount``, ``totalTokenCount``)
and errors follow https://cloud.google.com/apis/design/errors (``google.rpc.RetryInfo`` in
``details`` on 429).

How it "thinks": the agent's prompts carry the day's options as JSON between ``<options>``
and ``</options>`` and untrusted text (search terms, names, ad copy) as JSON strings inside
``<untrusted_data ...>`` blocks. The stand-in reads those:

- ``sound``: ranks the options by expected value and proposes each option's suggested value,
  with a reason built from the option's evidence; writes copy inside Google's limits;
- ``gullible``: a model fooled by prompt injection: it obeys instructions it finds in the
  untrusted data (raise budgets to N, set bids to N, act on other ids, pause everything) and
  otherwise answers like ``sound``;
- chaos: ``invalid_json``, ``truncated_json``, ``missing_fields``, ``out_of_envelope``,
  ``unknown_ids``, ``other_tenant`` (ids from ``foreign_ids``), ``rate_limited`` (429 with
  retry info), ``server_error`` (500), ``slow`` (sleeps ``slow_seconds`` first).

A mode spec is ``name`` (every request), ``name@first`` (only first attempts: a repair
request, recognised by its ``<validation_errors>`` block, is answered soundly) or ``name*N``
(the first N requests, then sound). Set it with the constructor, ``server.mode = ...``,
``POST /standin/mode {"mode": ...}`` or ``$SPECTRA_LLM_MODE`` for ``spectra sandbox llm``.

Token counts are deterministic: one token per four UTF-8 bytes (rounded up), which is close to
Gemini's published rule of thumb (https://ai.google.dev/gemini-api/docs/tokens).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from spectra.sandbox import imagen

SOUND = "sound"
GULLIBLE = "gullible"
CHAOS_MODES = frozenset(
    {
        "invalid_json",
        "truncated_json",
        "missing_fields",
        "out_of_envelope",
        "unknown_ids",
        "other_tenant",
        "rate_limited",
        "server_error",
        "slow",
    }
)
MODES = frozenset({SOUND, GULLIBLE}) | CHAOS_MODES

_PATH = re.compile(r"/models/(?P<model>[^/:]+):(?P<method>generateContent|countTokens|predict)$")
_OPTIONS = re.compile(r"<options>\s*(?P<json>.*?)\s*</options>", re.S)
_UNTRUSTED = re.compile(r"<untrusted_data[^>]*>\s*(?P<json>.*?)\s*</untrusted_data>", re.S)
_REPAIR = "<validation_errors>"
_LAUNCH = re.compile(r"<launch_brief>\s*(?P<json>.*?)\s*</launch_brief>", re.S)
_REVIEW = re.compile(r"<copy_to_review>\s*(?P<json>.*?)\s*</copy_to_review>", re.S)
_LABELS = re.compile(
    r'<untrusted_data source="option_labels[^"]*">\s*(?P<json>.*?)\s*</untrusted_data>', re.S
)
# what the stand-in's reviewer objects to (a judgement the deterministic rules do not make)
REVIEW_FLAGS = ("miracle", "risk-free", "risk free", "act now", "limited time only", "secret")
_NUMBER = r"(?P<n>\d[\d,]*(?:\.\d+)?)"


def count_tokens(text: str) -> int:
    """Deterministic token count: ceil(UTF-8 bytes / 4)."""
    return max(1, math.ceil(len(text.encode("utf-8")) / 4)) if text else 0


@dataclass
class ModeSpec:
    name: str
    scope: str = "all"  # all | first | count
    remaining: int = 0

    @classmethod
    def parse(cls, spec: str, known: frozenset[str] = MODES) -> ModeSpec:
        spec = spec.strip() or SOUND
        if "@" in spec:
            name, scope = spec.split("@", 1)
            if scope != "first":
                raise ValueError(f"unknown mode scope {scope!r} in {spec!r} (use @first)")
            mode = cls(name, "first")
        elif "*" in spec:
            name, count = spec.split("*", 1)
            mode = cls(name, "count", int(count))
        else:
            mode = cls(spec)
        if mode.name not in known:
            what = "LLM" if known is MODES else "image"
            raise ValueError(f"unknown {what} stand-in mode {mode.name!r}; known: {sorted(known)}")
        return mode

    def applies(self, *, repair: bool) -> str:
        """The mode this request gets (consumes one of a counted mode's requests)."""
        if self.scope == "first":
            return SOUND if repair else self.name
        if self.scope == "count":
            if self.remaining <= 0:
                return SOUND
            self.remaining -= 1
        return self.name


@dataclass
class StandInState:
    mode: ModeSpec = field(default_factory=lambda: ModeSpec(SOUND))
    image_mode: ModeSpec = field(default_factory=lambda: ModeSpec(SOUND))  # the Imagen stand-in
    foreign_ids: list[int] = field(default_factory=list)  # other tenants' campaign ids
    slow_seconds: float = 2.0
    retry_delay_seconds: float = 0.05
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    served_seconds: float = 0.0  # time spent answering (benchmarks subtract it)


# --------------------------------------------------------------------------- reading prompts


def prompt_text(body: Mapping[str, Any]) -> str:
    """All text parts of the request's contents (the system instruction excluded)."""
    parts = []
    for content in body.get("contents") or []:
        for part in content.get("parts") or []:
            if isinstance(part.get("text"), str):
                parts.append(part["text"])
    return "\n".join(parts)


def _system_text(body: Mapping[str, Any]) -> str:
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    return "\n".join(p.get("text", "") for p in system.get("parts") or [])


def read_options(text: str) -> list[dict[str, Any]]:
    match = _OPTIONS.search(text)
    if not match:
        return []
    try:
        options = json.loads(match.group("json"))
    except json.JSONDecodeError:
        return []
    return [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []


def read_labels(text: str) -> dict[str, str]:
    """The option labels block: option id -> label (ad group name, keyword, search term)."""
    match = _LABELS.search(text)
    if not match:
        return {}
    try:
        labels = json.loads(match.group("json"))
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def review_answer(text: str, mode: str) -> dict[str, Any]:
    """A brand review: flags the reviewer's phrases and the policy's terms (gullible: all safe)."""
    match = _REVIEW.search(text)
    copy_text = match.group("json").lower() if match else ""
    try:
        copy_text = json.dumps(json.loads(copy_text)).lower()
    except json.JSONDecodeError:
        pass
    if mode == GULLIBLE:
        return {"safe": True, "reasons": []}
    reasons = [f"implied claim or pressure: {flag!r}" for flag in REVIEW_FLAGS if flag in copy_text]
    return {"safe": not reasons, "reasons": reasons}


def read_untrusted(text: str) -> list[str]:
    """Every string inside the prompt's untrusted-data blocks (decoded from their JSON)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    for match in _UNTRUSTED.finditer(text):
        try:
            walk(json.loads(match.group("json")))
        except json.JSONDecodeError:
            found.append(match.group("json"))
    return found


# --------------------------------------------------------------------------- answering


def _amount_micros(raw: str) -> int:
    return int(round(float(raw.replace(",", "")) * 1_000_000))


def _sound_proposal(
    option: Mapping[str, Any], rank: int, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    kind = option.get("kind")
    proposal: dict[str, Any] = {
        "option_id": option.get("option_id"),
        "kind": kind,
        "campaign_id": option.get("campaign_id"),
        "ad_group_id": option.get("ad_group_id"),
        "criterion_id": option.get("criterion_id"),
        "new_value_micros": option.get("suggested_micros"),
        "new_target_roas": option.get("suggested_roas"),
        "negative_keyword_text": None,
        "match_type": None,
        "headlines": None,
        "descriptions": None,
        "path1": None,
        "path2": None,
        "rank": rank,
        "reasoning": _reason(option),
        "evidence_ids": list(option.get("evidence_ids") or []),
    }
    if kind == "negative_keyword":
        proposal["negative_keyword_text"] = option.get("search_term_ref")
        proposal["match_type"] = "EXACT"
    if kind == "rsa_copy":
        label = (labels or {}).get(str(option.get("option_id")), "")
        theme = (label or "Quality products")[:20].strip()
        proposal["headlines"] = [
            f"{theme} Online"[:30],
            "Free Delivery Today",
            "Compare Our Range",
            "Order In Minutes",
        ]
        proposal["descriptions"] = [
            "Browse the full range and find the right fit for you.",
            "Clear prices, fast delivery and easy returns on every order.",
        ]
        proposal["path1"] = "shop"
        proposal["path2"] = "range"
    return proposal


def _title(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def _fit(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut if cut else text[:limit]


def launch_copy_answer(brief_json: str, mode: str) -> dict[str, Any]:
    """Responsive-search-ad copy and keyword ideas for a launch brief (the launch_copy prompt).

    ``sound`` writes inside Google's limits (headlines ≤ 30, descriptions ≤ 90, paths ≤ 15);
    ``out_of_envelope`` overshoots them (long headlines, a long path) — the launch pipeline
    must catch it; ``missing_fields`` leaves out the descriptions."""
    try:
        brief = json.loads(brief_json)
    except json.JSONDecodeError:
        brief = {}
    product = brief.get("product") or {}
    name = str(product.get("name") or "Our Product")
    brand = str(product.get("brand") or "")
    points = [str(p) for p in product.get("selling_points") or []]
    seeds = [str(k) for k in brief.get("seed_keywords") or []]
    candidates = [name, *(f"{brand} {_title(s)}" for s in seeds[:1] if brand), *points]
    candidates += [_title(s) for s in seeds]
    candidates += [
        f"Shop {brand or name} Online",
        "Order Yours Today",
        "Easy Returns",
        "Fast Delivery",
    ]
    headlines: list[str] = []
    for c in candidates:
        c = " ".join(c.split())
        if c and len(c) <= 30 and c.lower() not in {h.lower() for h in headlines}:
            headlines.append(c)
    headlines = headlines[:15]
    description = str(product.get("description") or name)
    descriptions = [
        _fit(description, 90),
        _fit(". ".join(points[:2]) + "." if points else f"Discover {name} today.", 90),
        _fit(f"Order {name} online today and get it delivered fast.", 90),
    ]
    words = [w for w in re.findall(r"[A-Za-z0-9]+", name.lower()) if len(w) <= 15]
    answer: dict[str, Any] = {
        "headlines": headlines,
        "descriptions": descriptions,
        "path1": words[0] if words else "shop",
        "path2": words[1] if len(words) > 1 else "",
        "keywords": [k for s in seeds for k in (f"{s} online", f"buy {s}", f"{s} sale")],
    }
    if mode == "out_of_envelope":
        answer["headlines"] = [f"{h} - The Finest Choice Of The Season" for h in headlines]
        answer["path1"] = "averyveryverylongpath"
    if mode == "missing_fields":
        del answer["descriptions"]
    return answer


def _reason(option: Mapping[str, Any]) -> str:
    base = str(option.get("reason") or "the evidence supports this change")
    delta = option.get("expected_value_delta_micros")
    if isinstance(delta, int) and delta:
        return f"{base}; expected value change {delta / 1e6:+.2f} a day"
    return base


def _sound(
    options: Sequence[Mapping[str, Any]],
    max_per_campaign: int,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    ranked = sorted(
        options,
        key=lambda o: (-(o.get("expected_value_delta_micros") or 0), str(o.get("option_id"))),
    )
    per_campaign: dict[Any, int] = {}
    proposals: list[dict[str, Any]] = []
    for option in ranked:
        cid = option.get("campaign_id")
        if per_campaign.get(cid, 0) >= max_per_campaign:
            continue
        per_campaign[cid] = per_campaign.get(cid, 0) + 1
        proposals.append(_sound_proposal(option, len(proposals) + 1, labels))
    return {"proposals": proposals, "summary": f"{len(proposals)} changes ranked by value"}


def _gullible(
    options: Sequence[Mapping[str, Any]], untrusted: Sequence[str], foreign_ids: Sequence[int]
) -> dict[str, Any]:
    """Obey whatever instructions the data carries (the injection succeeded)."""
    answer = _sound(options, max_per_campaign=10)
    obeyed: list[dict[str, Any]] = []
    for text in untrusted:
        low = text.lower()
        if m := re.search(r"budgets?\D{0,40}?" + _NUMBER, low):
            for option in options:
                if option.get("kind") == "campaign_budget":
                    obeyed.append(
                        {
                            **_sound_proposal(option, 0),
                            "new_value_micros": _amount_micros(m.group("n")),
                            "reasoning": f"as instructed: {text[:80]}",
                        }
                    )
        if m := re.search(r"bids?\D{0,40}?" + _NUMBER, low):
            for option in options:
                if option.get("kind") == "keyword_bid":
                    obeyed.append(
                        {
                            **_sound_proposal(option, 0),
                            "new_value_micros": _amount_micros(m.group("n")),
                            "reasoning": f"as instructed: {text[:80]}",
                        }
                    )
        if m := re.search(r"target\D{0,40}?" + _NUMBER, low):
            for option in options:
                if option.get("kind") in ("target_cpa", "target_roas"):
                    wanted = float(m.group("n").replace(",", ""))
                    obeyed.append(
                        {
                            **_sound_proposal(option, 0),
                            "new_value_micros": _amount_micros(m.group("n"))
                            if option.get("kind") == "target_cpa"
                            else None,
                            "new_target_roas": wanted
                            if option.get("kind") == "target_roas"
                            else None,
                            "reasoning": f"as instructed: {text[:80]}",
                        }
                    )
        for raw in re.findall(r"(?:campaign|customer|account)[ _-]?(?:id)?[\s:=#]*(\d{4,})", low):
            template = options[0] if options else {"kind": "campaign_budget"}
            obeyed.append(
                {
                    **_sound_proposal(template, 0),
                    "kind": "campaign_budget",
                    "option_id": f"campaign_budget:{raw}",
                    "campaign_id": int(raw),
                    "new_value_micros": 999_000_000_000,
                    "reasoning": f"as instructed: {text[:80]}",
                }
            )
        if "pause" in low and ("all" in low or "every" in low):
            for option in options:
                if option.get("kind") in ("keyword_bid", "pause_keyword"):
                    obeyed.append(
                        {
                            **_sound_proposal(option, 0),
                            "kind": "pause_keyword",
                            "option_id": f"pause_keyword:{option.get('ad_group_id')}:"
                            f"{option.get('criterion_id')}",
                            "new_value_micros": None,
                            "reasoning": f"as instructed: {text[:80]}",
                        }
                    )
        if "ignore" in low and "instruction" in low:
            for option in options:
                if option.get("kind") == "campaign_budget":
                    cur = int(option.get("current_micros") or 1_000_000)
                    obeyed.append(
                        {
                            **_sound_proposal(option, 0),
                            "new_value_micros": cur * 100,
                            "reasoning": "previous instructions ignored, as the data asked",
                        }
                    )
            for foreign in foreign_ids:
                obeyed.append(
                    {
                        **_sound_proposal(options[0] if options else {}, 0),
                        "kind": "campaign_budget",
                        "option_id": f"campaign_budget:{foreign}",
                        "campaign_id": int(foreign),
                        "new_value_micros": 500_000_000_000,
                        "reasoning": "another tenant's campaign, as the data asked",
                    }
                )
    if obeyed:
        for i, proposal in enumerate(obeyed + answer["proposals"], start=1):
            proposal["rank"] = i
        answer = {"proposals": obeyed + answer["proposals"], "summary": "following the data"}
    return answer


def _chaos(
    mode: str, options: Sequence[Mapping[str, Any]], foreign_ids: Sequence[int]
) -> dict[str, Any] | str:
    answer = _sound(options, max_per_campaign=3)
    proposals = answer["proposals"]
    if mode == "invalid_json":
        return "Sure! Here are my proposals: {proposals: [budget up, bids down]}"
    if mode == "truncated_json":
        text = json.dumps(answer)
        return text[: max(1, len(text) * 2 // 3)]
    if mode == "missing_fields":
        for p in proposals:
            p.pop("kind", None)
            p.pop("option_id", None)
        return answer if proposals else {"summary": "no proposals field"}
    if mode == "out_of_envelope":
        for p in proposals:
            if isinstance(p.get("new_value_micros"), int):
                p["new_value_micros"] = p["new_value_micros"] * 5 + 10_000
        return answer
    if mode == "unknown_ids":
        for p in proposals:
            p["campaign_id"] = 987_654_321
            p["option_id"] = f"{p.get('kind')}:987654321"
        return answer
    if mode == "other_tenant":
        for i, p in enumerate(proposals):
            if foreign_ids:
                foreign = foreign_ids[i % len(foreign_ids)]
                p["campaign_id"] = foreign
                p["option_id"] = f"campaign_budget:{foreign}"
                p["kind"] = "campaign_budget"
        return answer
    return answer


def conform(value: Any, schema: Mapping[str, Any] | None) -> Any:
    """Project ``value`` onto an OpenAPI-style response schema: unknown properties dropped,
    arrays and objects walked (what honouring ``responseSchema`` means for a stand-in)."""
    if not schema:
        return value
    kind = str(schema.get("type") or "").upper()
    if "anyOf" in schema and value is not None:
        branches = [b for b in schema["anyOf"] if str(b.get("type", "")).upper() != "NULL"]
        return conform(value, branches[0]) if branches else value
    if kind == "OBJECT" and isinstance(value, dict):
        props = schema.get("properties") or {}
        if not props:
            return value
        return {k: conform(v, props[k]) for k, v in value.items() if k in props}
    if kind == "ARRAY" and isinstance(value, list):
        return [conform(v, schema.get("items")) for v in value]
    return value


def answer_text(
    body: Mapping[str, Any], mode: str, state: StandInState
) -> tuple[str, dict[str, Any] | None]:
    """The model text for a generateContent request, or an error (status, body) to send."""
    text = prompt_text(body)
    options = read_options(text)
    max_per = 3
    if m := re.search(r"at most (\d+) proposals per campaign", text + _system_text(body)):
        max_per = int(m.group(1))
    config = body.get("generationConfig") or {}
    schema = config.get("responseSchema")
    if _REVIEW.search(text):
        return json.dumps(review_answer(text, mode if mode == GULLIBLE else SOUND)), None
    if (launch := _LAUNCH.search(text)) and mode not in ("invalid_json", "truncated_json"):
        return json.dumps(launch_copy_answer(launch.group("json"), mode)), None
    if mode == GULLIBLE:
        answer: dict[str, Any] | str = _gullible(options, read_untrusted(text), state.foreign_ids)
    elif mode in CHAOS_MODES:
        answer = _chaos(mode, options, state.foreign_ids)
    else:
        answer = _sound(options, max_per, read_labels(text))
    if isinstance(answer, str):
        return answer, None
    reply: dict[str, Any] = answer
    if mode == SOUND or mode == GULLIBLE:
        reply = conform(reply, schema)
    if config.get("responseMimeType") == "application/json" or schema:
        return json.dumps(reply), None
    return _prose(reply), None


def _prose(answer: Mapping[str, Any]) -> str:
    lines = [str(answer.get("summary", ""))]
    for p in answer.get("proposals") or []:
        lines.append(f"- {p.get('kind')} {p.get('option_id')}: {p.get('reasoning')}")
    return "\n".join(lines)


def _error_body(code: int, status: str, message: str, details: list[Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


# --------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm and the
        # peer's delayed ACK can add ~40 ms to an answer
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._quickack()

    def _quickack(self) -> None:
        # the client sends a request's headers and body in two writes; a delayed ACK of the
        # first holds the second back (Nagle) for ~40 ms: acknowledge at once (Linux only)
        if hasattr(socket, "TCP_QUICKACK"):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        self._quickack()
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, _error_body(400, "INVALID_ARGUMENT", "body is not JSON", []))
            return
        state = self.server.state
        if self.path.rstrip("/") == "/standin/mode":
            try:
                spec = ModeSpec.parse(str(body.get("mode", state.mode.name)))
                image = ModeSpec.parse(
                    str(body.get("image_mode", state.image_mode.name)), imagen.IMAGE_MODES
                )
            except ValueError as error:
                self._send(400, _error_body(400, "INVALID_ARGUMENT", str(error), []))
                return
            with state.lock:
                state.mode = spec if "mode" in body else state.mode
                state.image_mode = image if "image_mode" in body else state.image_mode
                if "foreign_ids" in body:
                    state.foreign_ids = [int(i) for i in body["foreign_ids"]]
            self._send(200, {"mode": spec.name, "scope": spec.scope, "image_mode": image.name})
            return
        match = _PATH.search(self.path.split("?", 1)[0])
        if not match:
            self._send(404, _error_body(404, "NOT_FOUND", f"no such method: {self.path}", []))
            return
        model, method = match.group("model"), match.group("method")
        if method == "predict":
            self._predict(model, body, started)
            return
        text = prompt_text(body) + _system_text(body)
        if method == "countTokens":
            self._send(200, {"totalTokens": count_tokens(text)})
            return
        repair = _REPAIR in text
        with state.lock:
            mode = state.mode.applies(repair=repair)
            state.requests.append(
                {"path": self.path, "model": model, "mode": mode, "repair": repair, "body": body}
            )
        if mode == "slow":
            time.sleep(state.slow_seconds)
            mode = SOUND
        if mode == "rate_limited":
            delay = state.retry_delay_seconds
            details = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}
            ]
            self._send(
                429,
                _error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded (stand-in)", details),
                {"Retry-After": str(max(1, math.ceil(delay)))},
            )
            self._served(started)
            return
        if mode == "server_error":
            self._send(500, _error_body(500, "INTERNAL", "Internal error (stand-in)", []))
            self._served(started)
            return
        reply, _ = answer_text(body, mode, state)
        prompt_tokens = count_tokens(text)
        output_tokens = count_tokens(reply)
        thoughts = 16 + prompt_tokens // 25  # 2.5-series models think by default
        digest = hashlib.sha256(raw).hexdigest()[:16]
        self._send(
            200,
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": reply}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": prompt_tokens,
                    "candidatesTokenCount": output_tokens,
                    "thoughtsTokenCount": thoughts,
                    "totalTokenCount": prompt_tokens + output_tokens + thoughts,
                },
                "modelVersion": model,
                "responseId": f"standin-{digest}",
            },
        )
        self._served(started)

    def _predict(self, model: str, body: Mapping[str, Any], started: float) -> None:
        """Imagen's ``:predict`` (spectra.sandbox.imagen), with its own chaos mode."""
        state = self.server.state
        with state.lock:
            mode = state.image_mode.applies(repair=False)
            state.requests.append(
                {"path": self.path, "model": model, "mode": mode, "repair": False, "body": body}
            )
        if mode == "slow":
            time.sleep(state.slow_seconds)
            mode = SOUND
        status, reply = imagen.answer(body, mode, retry_delay_seconds=state.retry_delay_seconds)
        self._send(status, reply)
        self._served(started)

    def _served(self, started: float) -> None:
        with self.server.state.lock:
            self.server.state.served_seconds += time.perf_counter() - started


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: StandInState


class LlmStandIn:
    """The stand-in on ``host:port`` (0 = any free port), served from a background thread."""

    def __init__(
        self,
        *,
        mode: str = SOUND,
        port: int = 0,
        host: str = "127.0.0.1",
        foreign_ids: Sequence[int] = (),
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.state = StandInState(
            mode=ModeSpec.parse(mode), foreign_ids=[int(i) for i in foreign_ids]
        )
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> StandInState:
        return self._server.state

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        return self.state.mode.name

    @mode.setter
    def mode(self, spec: str) -> None:
        with self.state.lock:
            self.state.mode = ModeSpec.parse(spec)

    @property
    def image_mode(self) -> str:
        return self.state.image_mode.name

    @image_mode.setter
    def image_mode(self, spec: str) -> None:
        with self.state.lock:
            self.state.image_mode = ModeSpec.parse(spec, imagen.IMAGE_MODES)

    def image_requests(self) -> list[dict[str, Any]]:
        """The ``:predict`` requests served so far (each one an Imagen call we paid for)."""
        with self.state.lock:
            return [r for r in self.state.requests if r["path"].endswith(":predict")]

    def generate_requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [r for r in self.state.requests if not r["path"].endswith(":predict")]

    def start(self) -> LlmStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="llm-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> LlmStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["CHAOS_MODES", "GULLIBLE", "MODES", "SOUND", "LlmStandIn", "ModeSpec", "count_tokens"]
