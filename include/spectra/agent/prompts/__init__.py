"""Versioned prompt files: ``<id>.<version>.md``, a small header, then ``[system]`` and
``[repair]`` sections. The content hash (SHA-256 of the file) is recorded in the warehouse's
``prompt_versions`` registry when first used, and on every AI call and proposal.

Two versions of a prompt run side by side as an A/B test: a campaign gets one by a stable hash
of (tenant, account, campaign), so it keeps its version from day to day.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent
_SECTION = re.compile(r"^\[(?P<name>[a-z_]+)\]\s*$", re.M)


class PromptNotFound(LookupError):
    """No prompt file for that id and version."""


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    version: str
    content_hash: str
    body: str
    sections: dict[str, str]

    def section(self, name: str, **values: object) -> str:
        text = self.sections[name]
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    @property
    def label(self) -> str:
        return f"{self.prompt_id}@{self.version}"


@functools.lru_cache(maxsize=32)
def load_prompt(prompt_id: str, version: str, directory: Path = PROMPT_DIR) -> Prompt:
    path = directory / f"{prompt_id}.{version}.md"
    if not path.is_file():
        known = sorted(p.name for p in directory.glob(f"{prompt_id}.*.md"))
        raise PromptNotFound(f"no prompt {prompt_id} {version} in {directory} (have {known})")
    body = path.read_text(encoding="utf-8")
    header, _, rest = body.partition("\n---\n")
    meta = dict(
        (k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in header.splitlines())
    )
    if meta.get("id") != prompt_id or meta.get("version") != version:
        raise PromptNotFound(f"{path.name} declares {meta.get('id')} {meta.get('version')}")
    parts = _SECTION.split(rest)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    return Prompt(
        prompt_id=prompt_id,
        version=version,
        content_hash=hashlib.sha256(body.encode("utf-8")).hexdigest(),
        body=body,
        sections=sections,
    )


def assign_version(
    versions: tuple[str, ...], *, tenant_id: str, customer_id: int, campaign_id: int
) -> str:
    """The A/B arm of a campaign: stable across days and processes (SHA-256, not hash())."""
    if len(versions) == 1:
        return versions[0]
    digest = hashlib.sha256(f"{tenant_id}/{customer_id}/{campaign_id}".encode()).digest()
    return versions[int.from_bytes(digest[:8], "big") % len(versions)]
