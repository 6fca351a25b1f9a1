"""The per-row work of three public Google Ads ingest tools, re-implemented as baselines.

Each function takes the same captured SearchStream bytes (one ``SearchGoogleAdsStreamResponse``
per batch, as the sandbox sent them to our ingest) and does what that tool does to every row,
from the response message to its row values. Network and output I/O are excluded on purpose:
the baselines are their conversion alone, our figure is ingest end to end (network, decode,
quarantine screen, warehouse upsert), so the ratio is generous to the peers.

- ``airflow_provider``: the Airflow Google provider's ``GoogleAdsHook.search`` collects
  proto-plus ``GoogleAdsRow``s from the pager and returns ``row._pb`` for each; its
  ``GoogleAdsToGcsOperator`` then applies ``attrgetter(*attributes)`` to every row
  (apache/airflow, providers/google/.../ads/hooks/ads.py and transfers/ads_to_gcs.py).
- ``singer``: singer-io/tap-google-ads turns every row into JSON text with
  ``MessageToJson(row, preserving_proto_field_name=True)``, renames ``type_`` and
  ``json.loads`` it (tap_google_ads/streams.py, ``google_message_to_json``); its later key
  transforms and schema transformer are left out.
- ``gaarf``: google/ads-api-report-fetcher reads every field of a proto-plus row with one
  ``attrgetter(*fields)`` and sends each value through its parser chain (empty message,
  attribute name/text/value, repeated composite, repeated) (py/gaarf/parsers.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from google.protobuf.json_format import MessageToJson

# (GAQL field paths, the batches' serialized bytes) for one query.
Captured = Sequence[tuple[tuple[str, ...], Sequence[bytes]]]


def _types() -> tuple[Any, Any]:
    """The proto-plus response class of the API version our client speaks, and its raw class."""
    from spectra.ads.client import API_VERSION

    module = __import__(
        f"google.ads.googleads.{API_VERSION}.services.types.google_ads_service",
        fromlist=["SearchGoogleAdsStreamResponse"],
    )
    plus = module.SearchGoogleAdsStreamResponse
    return plus, plus.pb()


def _pb_path(field: str) -> str:
    """The raw protobuf attribute path of a GAQL field (what ``attrgetter`` reads)."""
    from spectra.ads.fields import resolve_field

    return resolve_field(field)[0]


def _plus_path(field: str) -> str:
    """proto-plus renames fields that shadow Python names (``type`` → ``type_``)."""
    return ".".join(p + "_" if p in {"type", "format"} else p for p in _pb_path(field).split("."))


def airflow_provider(captured: Captured) -> int:
    plus, _ = _types()
    rows = 0
    for fields, batches in captured:
        getter = attrgetter(*(_pb_path(f) for f in fields))
        native: list[Any] = []
        for data in batches:
            # the pager yields proto-plus rows; the hook unwraps each with ._pb
            native.extend(row._pb for row in plus.deserialize(data).results)
        converted = [getter(row) for row in native]
        rows += len(converted)
    return rows


def singer(captured: Captured) -> int:
    _, raw = _types()
    rows = 0
    for _fields, batches in captured:
        for data in batches:
            for row in raw.FromString(data).results:
                text = MessageToJson(row, preserving_proto_field_name=True)
                json.loads(text.replace('"type_":', '"type":'))
                rows += 1
    return rows


def _gaarf_parser() -> Callable[[Any], Any]:
    import proto
    from proto.marshal.collections.repeated import Repeated, RepeatedComposite

    def parse(value: Any) -> Any:
        # gaarf's chain, outermost first: RepeatedParser, RepeatedCompositeParser,
        # AttributeParser, EmptyAttributeParser; a value no parser takes stays as it is.
        if isinstance(value, Repeated) and "customer" in str(value):
            return [str(v).split("/")[-1] for v in value]
        if isinstance(value, RepeatedComposite):
            return [str(v).strip().split(": ")[1].split("/")[-1] for v in value]
        for attr in ("name", "text", "value"):
            if hasattr(value, attr):
                return getattr(value, attr)
        if issubclass(type(value), proto.Message):
            return "Not set"
        return None

    return parse


def gaarf(captured: Captured) -> int:
    plus, _ = _types()
    parse = _gaarf_parser()
    rows = 0
    for fields, batches in captured:
        getter = attrgetter(*(_plus_path(f) for f in fields))
        for data in batches:
            for row in plus.deserialize(data).results:
                values = getter(row)
                values = values if isinstance(values, tuple) else (values,)
                [parse(v) or v for v in values]
                rows += 1
    return rows


PEERS: dict[str, Callable[[Captured], int]] = {
    "Airflow Google provider (proto-plus pager, row._pb, attrgetter)": airflow_provider,
    "Singer tap-google-ads (MessageToJson, json.loads)": singer,
    "gaarf (proto-plus attrgetter, parser chain)": gaarf,
}
