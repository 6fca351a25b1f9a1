"""A launch's assets: responsive-search-ad copy and keyword ideas from the LLM, images from
Imagen — inside Google's limits, through brand safety, stored content-addressed.

**Copy** (one ``launch_copy`` prompt call, one repair when the answer breaks a rule): Google's
RSA limits (https://support.google.com/google-ads/answer/7684791): 3-15 headlines of at most
30 characters, 2-4 descriptions of at most 90, display paths of at most 15; then the agent's
brand safety — the deterministic checks (``spectra.agent.brand_safety.check_copy``) drop a
line that fails them, and the ``brand_review`` prompt judges what is left. Copy that is still
not enough for an ad, or that the review refuses, sends the launch back to DRAFT with the
reasons (nothing unsafe or unreviewed is ever deployed).

**Keywords**: every seed as PHRASE and EXACT, the model's ideas as PHRASE, normalised
(whitespace, case), at most 80 characters and 10 words (Google's keyword limits), never a
banned term of the tenant's policy.

**Images**: square (1:1) images from Imagen (``spectra.agent.imagen``, with its own retries).
If they still fail, the launch goes ahead text-only: the caller flags it for review.

**Content addressing**: each generation is stored in ``launch_assets`` under the SHA-256 of
what was asked (prompt id, version and hash, model, the brief's hash, parameters); asking the
same again — a retried task, a relaunch after FAILED → DRAFT — reads the stored asset and
makes no call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine

from spectra.agent.brand_safety import BrandPolicy, check_copy
from spectra.agent.client import LlmError, LlmReply, ProposalModel
from spectra.agent.context import quote_untrusted
from spectra.agent.cost import call_cost_micros
from spectra.agent.imagen import ImagenClient
from spectra.agent.prompts import Prompt, load_prompt
from spectra.agent.service import review_copy
from spectra.launch.brief import Brief
from spectra.warehouse import agent_store
from spectra.warehouse import launch_store as store

log = logging.getLogger("spectra.launch")

COPY_PROMPT = ("launch_copy", "v1")
HEADLINE_MAX, DESCRIPTION_MAX, PATH_MAX = 30, 90, 15
HEADLINES, DESCRIPTIONS = (3, 15), (2, 4)
KEYWORD_MAX_CHARS, KEYWORD_MAX_WORDS, MAX_KEYWORDS = 80, 10, 40
IMAGE_COUNT, IMAGE_RATIO = 2, "1:1"


class LaunchCopyAnswer(BaseModel):
    """The ``launch_copy`` prompt's answer (also its response schema)."""

    headlines: list[str] = Field(default_factory=list)
    descriptions: list[str] = Field(default_factory=list)
    path1: str = ""
    path2: str = ""
    keywords: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class AdCopy:
    headlines: tuple[str, ...]
    descriptions: tuple[str, ...]
    path1: str
    path2: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "headlines": list(self.headlines),
            "descriptions": list(self.descriptions),
            "path1": self.path1,
            "path2": self.path2,
        }


@dataclass
class CopyOutcome:
    copy: AdCopy | None
    keywords: list[tuple[str, str]]  # (text, match type)
    asset_keys: list[str]
    reused: bool
    refused: list[str] = field(default_factory=list)  # why there is no usable copy
    dropped: list[str] = field(default_factory=list)  # lines brand safety took out
    unsafe: bool = False  # refused by brand safety (not by a failure to generate)


@dataclass
class ImageOutcome:
    asset_keys: list[str]
    reused: bool
    error: str = ""  # set when generation failed after its retries (text-only)


def _key(*parts: Any) -> str:
    body = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _sha(content: Any) -> str:
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest()
    return _key(content)


def _words(text: str) -> str:
    return " ".join(str(text).split())


def copy_problems(answer: LaunchCopyAnswer) -> list[str]:
    """Every way the answer breaks Google's RSA limits (empty: it fits)."""
    out: list[str] = []
    for h in answer.headlines:
        if len(_words(h)) > HEADLINE_MAX:
            out.append(f"headline {h!r} has {len(_words(h))} characters (at most {HEADLINE_MAX})")
    for d in answer.descriptions:
        if len(_words(d)) > DESCRIPTION_MAX:
            out.append(
                f"description {d!r} has {len(_words(d))} characters (at most {DESCRIPTION_MAX})"
            )
    for name in ("path1", "path2"):
        value = getattr(answer, name)
        if len(value) > PATH_MAX or " " in value.strip():
            out.append(f"{name} {value!r}: at most {PATH_MAX} characters, no spaces")
    heads = [_words(h).lower() for h in answer.headlines if _words(h)]
    if len(set(heads)) != len(heads):
        out.append("two headlines are the same")
    if not HEADLINES[0] <= len(heads) <= HEADLINES[1]:
        out.append(f"{len(heads)} headlines (Google needs {HEADLINES[0]}-{HEADLINES[1]})")
    n = len([d for d in answer.descriptions if _words(d)])
    if not DESCRIPTIONS[0] <= n <= DESCRIPTIONS[1]:
        out.append(f"{n} descriptions (Google needs {DESCRIPTIONS[0]}-{DESCRIPTIONS[1]})")
    return out


def keywords_for(brief: Brief, ideas: list[str], policy: BrandPolicy) -> list[tuple[str, str]]:
    """Seeds as PHRASE and EXACT, ideas as PHRASE; Google's keyword limits; no banned term."""
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    banned = [t.lower() for t in policy.banned_terms + policy.trademarks]

    def add(text: str, match: str) -> None:
        text = _words(text).lower()
        if not text or len(text) > KEYWORD_MAX_CHARS or len(text.split()) > KEYWORD_MAX_WORDS:
            return
        if any(term in text for term in banned) or (text, match) in seen:
            return
        if len(out) < MAX_KEYWORDS:
            seen.add((text, match))
            out.append((text, match))

    for seed in brief.seed_keywords:
        add(seed, "PHRASE")
        add(seed, "EXACT")
    for idea in ideas:
        add(idea, "PHRASE")
    return out


def _brief_prompt(brief: Brief) -> str:
    data = {
        "product": brief.product.model_dump(mode="json"),
        "landing_page": str(brief.landing_page),
        "goal": brief.goal,
        "seed_keywords": list(brief.seed_keywords),
        "languages": list(brief.languages),
    }
    return "<launch_brief>\n" + quote_untrusted(data) + "\n</launch_brief>"


class _Calls:
    """Records each AI call of a launch in ``ai_calls`` (tokens, latency, outcome, and the
    cost in USD micros from the model's price row of the day, as the proposal agent does; an
    image call has no token price here, so it costs 0 until Imagen's per-image price is kept)."""

    def __init__(self, engine: Engine, brief: Brief, *, dag_run_id: str | None) -> None:
        self.engine = engine
        self.brief = brief
        self.dag_run_id = dag_run_id

    def record(
        self,
        *,
        purpose: str,
        model: str,
        prompt: Prompt | None,
        outcome: str,
        reply: LlmReply | None = None,
        error: str = "",
        latency_ms: int = 0,
        attempts: int = 0,
    ) -> None:
        day = dt.datetime.now(dt.UTC).date()
        with self.engine.connect() as conn:
            price = agent_store.price_for(conn, model, day)
        cost = (
            call_cost_micros(
                price,
                prompt_tokens=reply.prompt_tokens,
                output_tokens=reply.output_tokens,
                thinking_tokens=reply.thinking_tokens,
            )
            if reply is not None
            else 0
        )
        values = {
            "tenant_id": self.brief.tenant,
            "customer_id": self.brief.account,
            "campaign_id": None,
            "logical_date": day,
            "purpose": purpose,
            "model": model,
            "prompt_id": prompt.prompt_id if prompt else "imagen",
            "prompt_version": prompt.version if prompt else "-",
            "prompt_hash": prompt.content_hash if prompt else "-",
            "prompt_tokens": reply.prompt_tokens if reply else 0,
            "output_tokens": reply.output_tokens if reply else 0,
            "thinking_tokens": reply.thinking_tokens if reply else 0,
            "latency_ms": reply.latency_ms if reply else latency_ms,
            "attempts": reply.attempts if reply else attempts,
            "price_id": price.id if price else None,
            "cost_micros": cost,
            "outcome": outcome,
            "error": error[:4000],
            "response_id": reply.response_id if reply else None,
            "dag_run_id": self.dag_run_id,
        }
        with self.engine.begin() as conn:
            agent_store.insert_ai_call(conn, values)


def _stored(engine: Engine, tenant_id: str, key: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return store.get_asset(conn, tenant_id=tenant_id, request_key=key)


def _put(
    engine: Engine,
    brief: Brief,
    *,
    key: str,
    kind: str,
    model: str,
    content: dict[str, Any],
    mime: str = "application/json",
    data: bytes | None = None,
) -> None:
    with engine.begin() as conn:
        store.put_asset(
            conn,
            values={
                "tenant_id": brief.tenant,
                "request_key": key,
                "content_sha256": _sha(data if data is not None else content),
                "kind": kind,
                "model": model,
                "mime_type": mime,
                "content": content,
                "data": data,
                "created_at": dt.datetime.now(dt.UTC),
            },
        )


def generate_copy(
    engine: Engine,
    brief: Brief,
    model: ProposalModel,
    policy: BrandPolicy,
    *,
    dag_run_id: str | None = None,
) -> CopyOutcome:
    """RSA copy and keywords for ``brief`` (stored ones reused; see the module docstring)."""
    prompt = load_prompt(*COPY_PROMPT)
    copy_key = _key("rsa_copy", prompt.label, prompt.content_hash, model.model, brief.sha256)
    keywords_key = _key("keywords", copy_key)
    found, found_kw = (
        _stored(engine, brief.tenant, copy_key),
        _stored(engine, brief.tenant, keywords_key),
    )
    if found is not None and found_kw is not None:
        c = found["content"]
        copy = AdCopy(tuple(c["headlines"]), tuple(c["descriptions"]), c["path1"], c["path2"])
        keywords = [(k["text"], k["match_type"]) for k in found_kw["content"]["keywords"]]
        return CopyOutcome(copy, keywords, [copy_key, keywords_key], reused=True)
    with engine.begin() as conn:
        agent_store.register_prompt(
            conn, prompt_id=prompt.prompt_id, version=prompt.version,
            content_hash=prompt.content_hash, body=prompt.body,
        )  # fmt: skip
    calls = _Calls(engine, brief, dag_run_id=dag_run_id)
    errors: list[str] = []
    answer: LaunchCopyAnswer | None = None
    for purpose in ("launch_copy", "launch_repair"):
        text = _brief_prompt(brief)
        system = prompt.section("system")
        if errors:
            system += "\n\n" + prompt.section("repair")
            text += "\n\n<validation_errors>\n" + "\n".join(errors) + "\n</validation_errors>"
        try:
            reply = model.generate(
                system=system, prompt=text, response_schema=LaunchCopyAnswer,
                temperature=0.4, max_output_tokens=2048,
            )  # fmt: skip
        except LlmError as error:
            reason = f"copy generation failed ({type(error).__name__}: {error})"
            calls.record(purpose=purpose, model=model.model, prompt=prompt, outcome="error",
                         error=reason)  # fmt: skip
            return CopyOutcome(None, [], [], reused=False, refused=[reason])
        try:
            candidate = LaunchCopyAnswer.model_validate_json(reply.text)
            errors = copy_problems(candidate)
        except ValidationError as error:
            candidate, errors = None, [f"answer is not the schema: {error.errors()[0]['msg']}"]
        calls.record(purpose=purpose, model=model.model, prompt=prompt, reply=reply,
                     outcome="ok" if not errors else "invalid", error="; ".join(errors))  # fmt: skip
        if not errors:
            answer = candidate
            break
    if answer is None:
        return CopyOutcome(None, [], [], reused=False, refused=errors[:10])

    headlines = list(dict.fromkeys(_words(h) for h in answer.headlines if _words(h)))
    descriptions = [_words(d) for d in answer.descriptions if _words(d)]
    dropped: list[str] = []
    for line in list(headlines):
        if not check_copy([line], [], policy).safe:
            dropped.extend(check_copy([line], [], policy).reasons)
            headlines.remove(line)
    for line in list(descriptions):
        if not check_copy([], [line], policy).safe:
            dropped.extend(check_copy([], [line], policy).reasons)
            descriptions.remove(line)
    if len(headlines) < HEADLINES[0] or len(descriptions) < DESCRIPTIONS[0]:
        return CopyOutcome(
            None, [], [], reused=False, unsafe=True, dropped=dropped,
            refused=["brand safety left too little copy for an ad", *dropped],
        )  # fmt: skip
    copy = AdCopy(tuple(headlines), tuple(descriptions), answer.path1.strip(), answer.path2.strip())
    review = review_copy(engine, model, copy.as_dict(), policy)
    calls.record(purpose="brand_review", model=model.model, prompt=review.prompt,
                 reply=review.reply, outcome=review.outcome, error=review.error)  # fmt: skip
    if review.reasons:
        return CopyOutcome(None, [], [], reused=False, refused=review.reasons, dropped=dropped,
                           unsafe=review.outcome == "ok")  # fmt: skip
    keywords = keywords_for(brief, answer.keywords, policy)
    _put(engine, brief, key=copy_key, kind="rsa_copy", model=model.model, content=copy.as_dict())
    _put(
        engine, brief, key=keywords_key, kind="keywords", model=model.model,
        content={"keywords": [{"text": t, "match_type": m} for t, m in keywords]},
    )  # fmt: skip
    return CopyOutcome(copy, keywords, [copy_key, keywords_key], reused=False, dropped=dropped)


def image_prompt(brief: Brief) -> str:
    """What Imagen is asked for: the product, photographed, with no text (Google refuses
    images with overlaid text or logos in image assets)."""
    return (
        f"Product photograph of {brief.product.name}: {brief.product.description} "
        "Clean background, natural light, no text, no logos, no people."
    )


def generate_images(
    engine: Engine,
    brief: Brief,
    imagen: ImagenClient | None,
    *,
    dag_run_id: str | None = None,
) -> ImageOutcome:
    """Square images for the campaign (stored ones reused); an error means text-only."""
    prompt = image_prompt(brief)
    model = imagen.model if imagen is not None else "none"
    base = _key("image", model, prompt, IMAGE_COUNT, IMAGE_RATIO)
    keys = [f"{base[:60]}{i:04d}" for i in range(IMAGE_COUNT)]
    if all(_stored(engine, brief.tenant, k) is not None for k in keys):
        return ImageOutcome(keys, reused=True)
    if imagen is None:
        return ImageOutcome([], reused=False, error="no image model configured")
    calls = _Calls(engine, brief, dag_run_id=dag_run_id)
    try:
        reply = imagen.generate(
            prompt=prompt, number_of_images=IMAGE_COUNT, aspect_ratio=IMAGE_RATIO
        )
    except LlmError as error:
        reason = f"{type(error).__name__}: {error}"
        calls.record(purpose="launch_image", model=model, prompt=None, outcome="error",
                     error=reason)  # fmt: skip
        return ImageOutcome([], reused=False, error=reason)
    calls.record(purpose="launch_image", model=model, prompt=None, outcome="ok",
                 latency_ms=reply.latency_ms, attempts=reply.attempts)  # fmt: skip
    stored = []
    for key, image in zip(keys, reply.images, strict=False):
        _put(
            engine, brief, key=key, kind="image", model=model, mime=image.mime_type,
            content={"width": image.width, "height": image.height, "prompt": prompt},
            data=image.data,
        )  # fmt: skip
        stored.append(key)
    return ImageOutcome(stored, reused=False)


def load_images(engine: Engine, tenant_id: str, keys: list[str]) -> list[dict[str, Any]]:
    """The stored images (bytes, size, content hash) for deployment."""
    out = []
    for key in keys:
        row = _stored(engine, tenant_id, key)
        if row is not None and row["kind"] == "image":
            out.append(row)
    return out


__all__ = [
    "AdCopy",
    "CopyOutcome",
    "ImageOutcome",
    "LaunchCopyAnswer",
    "copy_problems",
    "generate_copy",
    "generate_images",
    "keywords_for",
    "load_images",
]
