"""The market's entities and their latent parameters, generated once from the scenario seed.

Entities live in flat numpy arrays (one row per entity, parent links as index arrays) because the
daily simulation is vectorised over all search terms at once. Lists hold the text. Entities created
later by mutations are appended, never reordered, so existing indexes and ids stay valid.

Keyword ids are Google's: one keyword text and match type has one ``criterion_id`` wherever it
is used, so the same keyword in two ad groups shares its id (``keyword_id``; the resource is
``adGroupCriteria/{ad_group_id}~{criterion_id}``). A share of every account's keywords repeats
a keyword of another of its ad groups (``StructureSpec.shared_keyword_share``), as real
accounts do (the same term in an exact and a phrase campaign, in several geo campaigns).
``keyword_key`` is the sandbox's own unique key per keyword (its random streams hang off it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectra.sandbox.market.economics import economics
from spectra.sandbox.market.lag import LagDistribution
from spectra.sandbox.market.scenario import NoiseSpec, Scenario
from spectra.sandbox.market.vocabulary import (
    CLOSE_VARIANT_TEMPLATES,
    DESCRIPTION_TEMPLATES,
    HEADLINE_TEMPLATES,
    IRRELEVANT_TERM_TEMPLATES,
    KEYWORD_MODIFIERS,
    RELEVANT_TERM_TEMPLATES,
    VERTICALS,
)

MATCH_TYPES: tuple[str, ...] = ("EXACT", "PHRASE", "BROAD")
# How likely a matched query past the keyword's own text is irrelevant, per match type, as a
# multiple of ``MarketSpec.irrelevant_term_share``: exact matches only close variants, phrase
# queries contain the keyword, broad match reaches far ("free", "jobs", "diy"...). Published
# account audits find 15-60 % of search spend on queries that never convert; broad match
# carries most of it.
IRRELEVANCE_BY_MATCH: tuple[float, ...] = (0.15, 0.7, 1.4)
# The keyword's own text as a query, relative to a median tail term (log-normal shares)
HEAD_TERM_SHARE: tuple[float, ...] = (4.0, 3.0, 2.0)
QS_LEVELS: tuple[str, ...] = ("BELOW_AVERAGE", "AVERAGE", "ABOVE_AVERAGE")
# Google's standard (campaign-inline) strategies the market simulates; each campaign sets exactly
# one member of the Campaign's ``campaign_bidding_strategy`` oneof, as on Google.
BIDDING: tuple[str, ...] = ("MANUAL_CPC", "TARGET_CPA", "TARGET_ROAS")
MANUAL_CPC, TARGET_CPA, TARGET_ROAS = 0, 1, 2
BILLABLE_UNIT_MICROS = 10_000  # USD: bids must be multiples of one cent

# The currencies the sandbox offers, as Google's currency constants describe them
# (developers.google.com/google-ads/api/reference/rpc/latest/CurrencyConstant):
# code -> (billable_unit_micros, units per US dollar). The unit is the ISO 4217 minor unit
# (one cent; one yen and one won have no minor unit); the rate is a rounded 2025 exchange
# rate, so a yen account's prices, bids, budgets and conversion values are yen-sized (a CPC
# of ~180 yen, not ~1.2). The market is the sandbox's own Google: it does not share the
# product's table (spectra.domain.money), or a wrong unit there would pass by construction.
CURRENCIES: dict[str, tuple[int, float]] = {
    "USD": (10_000, 1.0),
    "EUR": (10_000, 0.9),
    "GBP": (10_000, 0.8),
    "CAD": (10_000, 1.4),
    "AUD": (10_000, 1.5),
    "JPY": (1_000_000, 150.0),
    "KRW": (1_000_000, 1400.0),
}


def round_bid(
    micros: NDArray[np.float64] | float, unit: NDArray[np.int64] | int = BILLABLE_UNIT_MICROS
) -> NDArray[np.int64]:
    """Round to the currency's billable unit (per entity when ``unit`` is an array), at least
    one unit."""
    unit_f = np.asarray(unit, np.float64)
    units = np.maximum(np.rint(np.asarray(micros, np.float64) / unit_f), 1)
    return (units * unit_f).astype(np.int64)


def currency_constant(code: str) -> tuple[int, float]:
    """(billable unit micros, units per USD) of a currency the sandbox offers."""
    try:
        return CURRENCIES[code]
    except KeyError:
        raise ValueError(f"currency {code!r} is not offered; known: {sorted(CURRENCIES)}") from None


@dataclass
class Structure:
    """All entities of a market. Index arrays: ``campaign_account[i]`` is campaign i's account."""

    # accounts
    customer_id: NDArray[np.int64]
    account_name: list[str]
    account_vertical: list[str]
    currency_code: list[str]
    account_unit: NDArray[np.int64]  # the currency's billable unit (micros)
    account_money_scale: NDArray[np.float64]  # currency units per US dollar (price levels)
    time_zone: list[str]
    account_lag: list[LagDistribution]
    account_noise: list[NoiseSpec]
    # campaigns (one non-shared budget each)
    campaign_id: NDArray[np.int64]
    campaign_account: NDArray[np.int64]
    campaign_name: list[str]
    campaign_budget_id: NDArray[np.int64]
    campaign_bidding0: NDArray[np.int8]
    # the ad schedule: which weekdays (Monday = 0) the campaign may serve on (all when it has
    # no ad schedule criteria); a campaign outside its schedule gets no impressions, so no row
    campaign_weekdays: NDArray[np.bool_]
    # ad groups
    ad_group_id: NDArray[np.int64]
    ad_group_campaign: NDArray[np.int64]
    ad_group_name: list[str]
    ad_group_noun: list[str]
    ad_group_bid0: NDArray[np.int64]
    # keywords (positive ad group criteria)
    keyword_id: NDArray[np.int64]  # Google's criterion id: shared by ad groups with the keyword
    keyword_key: NDArray[np.int64]  # unique per keyword (seeds its noise streams)
    keyword_ad_group: NDArray[np.int64]
    keyword_text: list[str]
    keyword_match: NDArray[np.int8]
    keyword_bid0: NDArray[np.int64]
    keyword_searches: NDArray[np.float64]  # daily eligible searches on an ordinary day
    keyword_cpc_scale: NDArray[np.float64]  # competitors' price level (micros)
    keyword_steepness: NDArray[np.float64]  # how sharply impression share rises with ad rank
    keyword_ctr: NDArray[np.float64]  # CTR at a middling position
    keyword_cvr: NDArray[np.float64]  # conversion rate of relevant traffic
    keyword_value: NDArray[np.float64]  # mean value per conversion (currency units)
    keyword_qs_ctr: NDArray[np.int8]  # QS components, 0..2 = BELOW_AVERAGE..ABOVE_AVERAGE
    keyword_qs_relevance: NDArray[np.int8]
    keyword_qs_landing: NDArray[np.int8]
    keyword_qs: NDArray[np.int8]
    # responsive search ads
    ad_id: NDArray[np.int64]
    ad_ad_group: NDArray[np.int64]
    ad_headlines: list[list[dict[str, str]]]
    ad_descriptions: list[list[dict[str, str]]]
    ad_final_urls: list[list[str]]
    ad_weight: NDArray[np.float64]
    # search terms (the simulation's atoms)
    term_id: NDArray[np.int64]
    term_keyword: NDArray[np.int64]
    term_text: list[str]
    term_share: NDArray[np.float64]
    term_ctr_mult: NDArray[np.float64]
    term_cvr_mult: NDArray[np.float64]
    term_relevant: NDArray[np.bool_]
    extra: dict[str, Any] = field(default_factory=dict)

    # derived links (refresh() after appends)
    keyword_campaign: NDArray[np.int64] = field(init=False)
    keyword_account: NDArray[np.int64] = field(init=False)
    ad_group_account: NDArray[np.int64] = field(init=False)
    term_ad_group: NDArray[np.int64] = field(init=False)
    term_campaign: NDArray[np.int64] = field(init=False)
    term_account: NDArray[np.int64] = field(init=False)
    ad_campaign: NDArray[np.int64] = field(init=False)
    ad_account: NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.keyword_campaign = self.ad_group_campaign[self.keyword_ad_group]
        self.keyword_account = self.campaign_account[self.keyword_campaign]
        self.ad_group_account = self.campaign_account[self.ad_group_campaign]
        self.term_ad_group = self.keyword_ad_group[self.term_keyword]
        self.term_campaign = self.keyword_campaign[self.term_keyword]
        self.term_account = self.keyword_account[self.term_keyword]
        self.ad_campaign = self.ad_group_campaign[self.ad_ad_group]
        self.ad_account = self.campaign_account[self.ad_campaign]

    def unit_of(self, kind: str) -> NDArray[np.int64]:
        """The billable unit of each entity of ``kind`` (its account's currency)."""
        account = {
            "account": np.arange(self.n_accounts),
            "campaign": self.campaign_account,
            "ad_group": self.ad_group_account,
            "keyword": self.keyword_account,
        }[kind]
        return self.account_unit[account]

    def money_scale_of(self, kind: str) -> NDArray[np.float64]:
        """Currency units per US dollar of each entity of ``kind``."""
        account = {
            "account": np.arange(self.n_accounts),
            "campaign": self.campaign_account,
            "keyword": self.keyword_account,
        }[kind]
        return self.account_money_scale[account]

    @property
    def n_accounts(self) -> int:
        return int(self.customer_id.size)

    @property
    def n_campaigns(self) -> int:
        return int(self.campaign_id.size)

    @property
    def n_ad_groups(self) -> int:
        return int(self.ad_group_id.size)

    @property
    def n_keywords(self) -> int:
        return int(self.keyword_id.size)

    @property
    def n_ads(self) -> int:
        return int(self.ad_id.size)

    @property
    def n_terms(self) -> int:
        return int(self.term_id.size)


def _lognormal(
    rng: np.random.Generator, median: float, sigma: float, n: int
) -> NDArray[np.float64]:
    return median * np.exp(sigma * rng.standard_normal(n))


def _title(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def _keyword_texts(base: str, count: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(out) < count:
        mod = KEYWORD_MODIFIERS[i % len(KEYWORD_MODIFIERS)]
        text = base if not mod else (mod.format(base) if "{}" in mod else f"{mod} {base}")
        if i >= len(KEYWORD_MODIFIERS):
            text = f"{text} {i // len(KEYWORD_MODIFIERS) + 1}"
        text = " ".join(text.split())
        if text not in seen:
            seen.add(text)
            out.append(text)
        i += 1
    return out


def _share_keywords(
    texts: list[str],
    match: NDArray[np.int8],
    group: NDArray[np.int64],
    account: NDArray[np.int64],
    share: float,
    rng: np.random.Generator,
) -> None:
    """Make ``share`` of each account's keywords copies of a keyword of another of its ad groups.

    Each chosen keyword takes the text of a keyword with the same match type in another ad
    group of the account, so its latent parameters and match type stay as drawn
    (only the text, and so the criterion id, is shared). An ad group never holds one text and
    match type twice (Google refuses it). The first keyword of each ad group (its head term)
    is never overwritten. In place.
    """
    n = len(texts)
    if share <= 0 or n == 0:
        return
    first = np.ones(n, np.bool_)
    first[1:] = group[1:] != group[:-1]
    chosen = np.concatenate(
        [
            rng.permutation(np.flatnonzero(~first & (account == a)))[
                : int(round(share * np.count_nonzero(account == a)))
            ]
            for a in np.unique(account).tolist()
        ]
    )
    held = {(int(g), texts[k], int(match[k])) for k, g in enumerate(group.tolist())}
    for k in sorted(chosen.tolist()):
        g = int(group[k])
        donors = np.flatnonzero((account == account[k]) & (group != g) & (match == match[k]))
        if donors.size == 0:
            continue
        for d in rng.permutation(donors)[:8].tolist():
            if (g, texts[d], int(match[d])) in held:
                continue
            held.discard((g, texts[k], int(match[k])))
            texts[k] = texts[d]
            held.add((g, texts[k], int(match[k])))
            break


def _weekday_schedules(
    account: NDArray[np.int64], share: float, rng: np.random.Generator
) -> NDArray[np.bool_]:
    """Per campaign, the weekdays it serves: each campaign runs Monday to Friday with
    probability ``share`` (never every campaign of an account), the rest every day."""
    out = np.ones((account.size, 7), np.bool_)
    if share <= 0:
        return out
    chosen = rng.random(account.size) < share
    for a in np.unique(account).tolist():
        camps = np.flatnonzero(account == a)
        if chosen[camps].all():
            chosen[camps[-1]] = False
    out[chosen, 5:] = False
    return out


def criterion_ids(
    texts: list[str], match: NDArray[np.int8], keys: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Google's criterion id per keyword: the first keyword with a text and match type keeps its
    own key as id, every later one with the same text and match type shares it."""
    first: dict[tuple[str, int], int] = {}
    out = np.empty(len(texts), np.int64)
    for k, (text, m) in enumerate(zip(texts, match.tolist(), strict=True)):
        out[k] = first.setdefault((text, int(m)), int(keys[k]))
    return out


def generate(scenario: Scenario) -> Structure:
    """Build every entity and latent parameter from the scenario (pure function of the seed)."""
    spec = scenario.structure
    mkt = scenario.market
    rng = np.random.default_rng([scenario.seed, 0x57C])
    id_rng = np.random.default_rng([scenario.seed, 0x1D5])
    verticals = list(VERTICALS)

    n_acc = spec.accounts
    customer_ids = id_rng.choice(
        np.arange(1_000_000_000, 9_999_999_999, 7_919, dtype=np.int64), size=n_acc, replace=False
    )
    base = 1_000_000 * (scenario.seed % 997)
    names: list[str] = []
    acc_vertical: list[str] = []
    currencies: list[str] = []
    zones: list[str] = []
    lags: list[LagDistribution] = []
    noises: list[NoiseSpec] = []
    for a in range(n_acc):
        aspec = scenario.account_spec(a)
        vertical = aspec.vertical or verticals[a % len(verticals)]
        if vertical not in VERTICALS:
            raise ValueError(f"unknown vertical {vertical!r}; known: {verticals}")
        acc_vertical.append(vertical)
        pool = VERTICALS[vertical]["account"]
        names.append(
            aspec.name
            or pool[(a // len(verticals)) % len(pool)]
            + ("" if a < len(verticals) * len(pool) else f" {a}")
        )
        currency_constant(aspec.currency_code)  # refuse a currency the sandbox does not offer
        currencies.append(aspec.currency_code)
        zones.append(aspec.time_zone)
        lags.append(aspec.lag or scenario.lag)
        noises.append(aspec.noise or scenario.noise)

    # campaigns
    c_acc: list[int] = []
    c_name: list[str] = []
    c_noun: list[str] = []
    for a in range(n_acc):
        nouns = VERTICALS[acc_vertical[a]]["nouns"]
        for c in range(spec.campaigns_per_account):
            noun = nouns[c % len(nouns)]
            suffix = "" if c < len(nouns) else f" #{c // len(nouns) + 1}"
            c_acc.append(a)
            c_noun.append(noun)
            c_name.append(f"Search | {_title(noun)}{suffix}")
    n_c = len(c_acc)
    acc_unit = np.array([currency_constant(c)[0] for c in currencies], np.int64)
    acc_scale = np.array([currency_constant(c)[1] for c in currencies], np.float64)
    campaign_id = 20_000_000_000 + base + np.arange(n_c, dtype=np.int64) * 7 + 1
    budget_id = 30_000_000_000 + base + np.arange(n_c, dtype=np.int64) * 7 + 3
    draw = rng.random(n_c)  # one draw per campaign: a tROAS share leaves the tCPA ones as they were
    bidding = np.where(
        draw < spec.target_cpa_share,
        TARGET_CPA,
        np.where(draw < spec.target_cpa_share + spec.target_roas_share, TARGET_ROAS, MANUAL_CPC),
    ).astype(np.int8)
    campaign_account = np.asarray(c_acc, np.int64)
    weekdays = _weekday_schedules(
        campaign_account, spec.weekday_only_share, np.random.default_rng([scenario.seed, 0x5CED])
    )

    # ad groups
    g_camp: list[int] = []
    g_name: list[str] = []
    g_noun: list[str] = []
    for c in range(n_c):
        quals = VERTICALS[acc_vertical[c_acc[c]]]["qualifiers"]
        for g in range(spec.ad_groups_per_campaign):
            qual = quals[g % len(quals)]
            stem = f"{qual} {c_noun[c]}".strip()
            if g >= len(quals):
                stem = f"{stem} {g // len(quals) + 1}"
            g_camp.append(c)
            g_noun.append(stem)
            g_name.append(_title(stem))
    n_g = len(g_camp)
    ad_group_id = 140_000_000_000 + base + np.arange(n_g, dtype=np.int64) * 11 + 5
    ad_group_campaign = np.asarray(g_camp, np.int64)

    # keywords
    k_group = np.repeat(np.arange(n_g, dtype=np.int64), spec.keywords_per_ad_group)
    k_text: list[str] = []
    for g in range(n_g):
        k_text.extend(_keyword_texts(g_noun[g], spec.keywords_per_ad_group))
    n_k = k_group.size
    keyword_key = 300_000_000_000 + base * 10 + np.arange(n_k, dtype=np.int64) * 13 + 9
    mix_names = [m for m, _ in spec.match_type_mix]
    mix_p = np.array([p for _, p in spec.match_type_mix], np.float64)
    match_codes = np.array([MATCH_TYPES.index(m) for m in mix_names], np.int8)
    k_match = match_codes[rng.choice(len(mix_names), size=n_k, p=mix_p / mix_p.sum())]
    g_account = campaign_account[ad_group_campaign]
    _share_keywords(
        k_text, k_match, k_group, g_account[k_group], spec.shared_keyword_share,
        np.random.default_rng([scenario.seed, 0x5AED]),
    )  # fmt: skip
    keyword_id = criterion_ids(k_text, k_match, keyword_key)
    # campaign-level price and demand factors, so campaigns differ as wholes
    camp_price = np.exp(0.25 * rng.standard_normal(n_c))
    camp_demand = np.exp(0.35 * rng.standard_normal(n_c))
    k_camp = ad_group_campaign[k_group]
    searches = (
        _lognormal(rng, mkt.searches_per_keyword.median, mkt.searches_per_keyword.sigma, n_k)
        * camp_demand[k_camp]
    )
    searches *= np.where(
        k_match == 0, 0.6, np.where(k_match == 1, 1.0, 1.6)
    )  # broader → more searches
    # tiny keywords: a hundredth of the volume, no impressions on most days (never a head term)
    tiny_rng = np.random.default_rng([scenario.seed, 0x71E])
    head = np.ones(n_k, np.bool_)
    head[1:] = k_group[1:] != k_group[:-1]
    searches *= np.where(~head & (tiny_rng.random(n_k) < spec.tiny_keyword_share), 0.01, 1.0)
    # prices and values are drawn in dollars, then sized to the account's currency
    k_scale = acc_scale[campaign_account[k_camp]]
    k_unit = acc_unit[campaign_account[k_camp]]
    cpc_scale = (
        _lognormal(rng, mkt.cpc_micros.median, mkt.cpc_micros.sigma, n_k)
        * camp_price[k_camp]
        * k_scale
    )
    steep = rng.uniform(mkt.rank_steepness.low, mkt.rank_steepness.high, n_k)
    ctr = _lognormal(rng, mkt.ctr.median, mkt.ctr.sigma, n_k)
    cvr = _lognormal(rng, mkt.cvr.median, mkt.cvr.sigma, n_k)
    value = (
        _lognormal(rng, mkt.value_per_conversion.median, mkt.value_per_conversion.sigma, n_k)
        * k_scale
    )
    # each vertical's published economics scale the drawn parameters (economics.py), after
    # the draws so every vertical keeps the same random streams; the price level here, the
    # rates after the quality scores (Google rates an ad against its own auction's
    # competitors, not against other industries)
    econ = [economics(v) for v in acc_vertical]
    k_acc = campaign_account[k_camp]
    cpc_scale = cpc_scale * np.array([e.cpc for e in econ])[k_acc]

    # QS components follow the latent rates (what Google's predictions would see), plus noise
    def level(x: NDArray[np.float64]) -> NDArray[np.int8]:
        z = (np.log(x) - np.median(np.log(x))) / (
            np.std(np.log(x)) + 1e-9
        ) + 0.6 * rng.standard_normal(x.size)
        return np.digitize(z, [-0.6, 0.6]).astype(np.int8)

    qs_ctr = level(ctr)
    qs_rel = np.digitize(rng.standard_normal(n_k), [-0.8, 0.5]).astype(np.int8)
    qs_land = level(cvr)
    qs = np.clip(
        np.rint(
            1.5 + 1.75 * qs_ctr + 1.25 * qs_rel + 1.75 * qs_land + 0.6 * rng.standard_normal(n_k)
        ),
        1,
        10,
    ).astype(np.int8)
    ctr = np.minimum(ctr * np.array([e.ctr for e in econ])[k_acc], 0.5)
    cvr = np.minimum(cvr * np.array([e.cvr for e in econ])[k_acc], 0.8)
    value = value * np.array([e.value for e in econ])[k_acc]
    bid_mult = rng.uniform(mkt.bid_to_cpc.low, mkt.bid_to_cpc.high, n_k)
    k_bid = round_bid(cpc_scale * bid_mult, k_unit)
    g_bid = np.zeros(n_g, np.int64)
    g_unit = acc_unit[campaign_account[ad_group_campaign]]
    g_scale = acc_scale[campaign_account[ad_group_campaign]]
    order = np.argsort(k_group, kind="stable")
    for g, chunk in enumerate(
        np.split(k_bid[order], np.cumsum(np.bincount(k_group, minlength=n_g))[:-1])
    ):
        median = float(np.median(chunk)) if chunk.size else 1_000_000 * float(g_scale[g])
        g_bid[g] = int(round_bid(median, int(g_unit[g])))

    # ads
    a_group = np.repeat(np.arange(n_g, dtype=np.int64), spec.ads_per_ad_group)
    n_ads = a_group.size
    ad_id = 700_000_000_000 + base * 10 + np.arange(n_ads, dtype=np.int64) * 17 + 2
    headlines: list[list[dict[str, str]]] = []
    descriptions: list[list[dict[str, str]]] = []
    urls: list[list[str]] = []
    for i, g in enumerate(a_group.tolist()):
        brand = names[c_acc[g_camp[g]]].split()[0]
        noun = g_noun[g]
        nh = 8 + (i * 5) % 5
        hs = [
            HEADLINE_TEMPLATES[(i + j) % len(HEADLINE_TEMPLATES)].format(
                Noun=_title(noun), brand=brand
            )
            for j in range(nh)
        ]
        headlines.append([{"text": h[:30].rstrip()} for h in dict.fromkeys(hs)])
        ds = [
            DESCRIPTION_TEMPLATES[(i + j) % len(DESCRIPTION_TEMPLATES)].format(
                noun=noun, brand=brand
            )
            for j in range(2 + i % 3)
        ]
        descriptions.append([{"text": d[:90].rstrip()} for d in dict.fromkeys(ds)])
        urls.append([f"https://www.{brand.lower()}.example/{noun.replace(' ', '-')}"])
    weights = rng.gamma(4.0, 1.0, n_ads)

    # search terms
    t_kw: list[int] = []
    t_text: list[str] = []
    t_rel: list[bool] = []
    t_share: list[float] = []
    ranges = {MATCH_TYPES.index(m): (lo, hi) for m, lo, hi in spec.search_terms_per_keyword}
    counts = np.array(
        [
            rng.integers(ranges.get(int(m), (1, 1))[0], ranges.get(int(m), (1, 1))[1] + 1)
            for m in k_match.tolist()
        ]
    )
    irr_draw = rng.random(int(counts.sum()))
    pick = rng.integers(0, 1 << 30, int(counts.sum()))
    # the long tail: shares log-normal (a few heavy terms, most with a click or two a month)
    shares_raw = np.exp(mkt.term_share_sigma * rng.standard_normal(int(counts.sum())))
    irrelevance = mkt.irrelevant_term_share * np.asarray(IRRELEVANCE_BY_MATCH)
    pos = 0
    for k in range(n_k):
        text = k_text[k]
        match = int(k_match[k])
        noun = c_noun[int(k_camp[k])]
        used: set[str] = set()
        for j in range(int(counts[k])):
            if j == 0:
                term, relevant, share = text, True, HEAD_TERM_SHARE[match]
            elif match == 0 and irr_draw[pos] >= irrelevance[0]:
                term, relevant, share = (
                    CLOSE_VARIANT_TEMPLATES[(pick[pos] + j) % len(CLOSE_VARIANT_TEMPLATES)]
                    .format(kw=text)
                    .strip(),
                    True,
                    shares_raw[pos] * 0.4,
                )
            elif irr_draw[pos] < irrelevance[match]:
                tmpl = IRRELEVANT_TERM_TEMPLATES[(pick[pos] + j) % len(IRRELEVANT_TERM_TEMPLATES)]
                term, relevant, share = (
                    tmpl.format(noun=text if match < 2 else noun),
                    False,
                    shares_raw[pos],
                )
            else:
                tmpl = RELEVANT_TERM_TEMPLATES[(pick[pos] + j) % len(RELEVANT_TERM_TEMPLATES)]
                term, relevant, share = tmpl.format(kw=text), True, shares_raw[pos]
            pos += 1
            if term in used:
                term = f"{term} {j}"
            used.add(term)
            t_kw.append(k)
            t_text.append(term)
            t_rel.append(relevant)
            t_share.append(share)
    term_keyword = np.asarray(t_kw, np.int64)
    share = np.asarray(t_share, np.float64)
    share /= np.bincount(term_keyword, weights=share, minlength=n_k)[term_keyword]
    relevant = np.asarray(t_rel, np.bool_)
    n_t = term_keyword.size
    term_id = 900_000_000_000 + base * 10 + np.arange(n_t, dtype=np.int64) * 19 + 4
    ctr_mult = np.where(
        relevant, np.exp(0.15 * rng.standard_normal(n_t)), mkt.irrelevant_ctr_multiplier
    )
    cvr_mult = np.where(
        relevant, np.exp(0.2 * rng.standard_normal(n_t)), mkt.irrelevant_cvr_multiplier
    )

    return Structure(
        customer_id=customer_ids.astype(np.int64),
        account_name=names,
        account_vertical=acc_vertical,
        currency_code=currencies,
        account_unit=acc_unit,
        account_money_scale=acc_scale,
        time_zone=zones,
        account_lag=lags,
        account_noise=noises,
        campaign_id=campaign_id,
        campaign_account=campaign_account,
        campaign_name=c_name,
        campaign_budget_id=budget_id,
        campaign_bidding0=bidding,
        campaign_weekdays=weekdays,
        ad_group_id=ad_group_id,
        ad_group_campaign=ad_group_campaign,
        ad_group_name=g_name,
        ad_group_noun=g_noun,
        ad_group_bid0=g_bid,
        keyword_id=keyword_id,
        keyword_key=keyword_key,
        keyword_ad_group=k_group,
        keyword_text=k_text,
        keyword_match=k_match,
        keyword_bid0=k_bid,
        keyword_searches=searches,
        keyword_cpc_scale=cpc_scale,
        keyword_steepness=steep,
        keyword_ctr=ctr,
        keyword_cvr=cvr,
        keyword_value=value,
        keyword_qs_ctr=qs_ctr,
        keyword_qs_relevance=qs_rel,
        keyword_qs_landing=qs_land,
        keyword_qs=qs,
        ad_id=ad_id,
        ad_ad_group=a_group,
        ad_headlines=headlines,
        ad_descriptions=descriptions,
        ad_final_urls=urls,
        ad_weight=weights,
        term_id=term_id,
        term_keyword=term_keyword,
        term_text=t_text,
        term_share=share,
        term_ctr_mult=ctr_mult,
        term_cvr_mult=cvr_mult,
        term_relevant=relevant,
    )


# ---------------------------------------------------------------------------------------------
# Appending entities created by mutations. Latent parameters come from generators seeded by the
# new entity's id, so a created keyword behaves the same whatever else happened in the market.


def _concat(struct: Structure, name: str, values: NDArray[Any] | list[Any]) -> None:
    current = getattr(struct, name)
    if isinstance(current, list):
        current.extend(values)
    else:
        setattr(struct, name, np.concatenate([current, np.asarray(values, dtype=current.dtype)]))


def next_id(ids: NDArray[np.int64], step: int) -> int:
    return int(ids.max()) + step if ids.size else step


def append_campaign(
    struct: Structure, *, account: int, name: str, budget_id: int, bidding: int
) -> int:
    """Append a campaign; returns its index."""
    cid = next_id(struct.campaign_id, 7)
    _concat(struct, "campaign_id", [cid])
    _concat(struct, "campaign_account", [account])
    _concat(struct, "campaign_name", [name])
    _concat(struct, "campaign_budget_id", [budget_id])
    _concat(struct, "campaign_bidding0", [bidding])
    _concat(struct, "campaign_weekdays", np.ones((1, 7), np.bool_))
    struct.refresh()
    return struct.n_campaigns - 1


def append_ad_group(struct: Structure, *, campaign: int, name: str, bid: int) -> int:
    _concat(struct, "ad_group_id", [next_id(struct.ad_group_id, 11)])
    _concat(struct, "ad_group_campaign", [campaign])
    _concat(struct, "ad_group_name", [name])
    _concat(struct, "ad_group_noun", [name.lower()])
    _concat(struct, "ad_group_bid0", [bid])
    struct.refresh()
    return struct.n_ad_groups - 1


def append_ad(
    struct: Structure,
    *,
    ad_group: int,
    headlines: list[str],
    descriptions: list[str],
    final_urls: list[str],
) -> int:
    ad_id = next_id(struct.ad_id, 17)
    rng = np.random.default_rng([ad_id, 0xAD])
    _concat(struct, "ad_id", [ad_id])
    _concat(struct, "ad_ad_group", [ad_group])
    _concat(struct, "ad_headlines", [[{"text": h} for h in headlines]])
    _concat(struct, "ad_descriptions", [[{"text": d} for d in descriptions]])
    _concat(struct, "ad_final_urls", [list(final_urls)])
    _concat(struct, "ad_weight", [float(rng.gamma(4.0, 1.0))])
    struct.refresh()
    return struct.n_ads - 1


def append_keyword(
    struct: Structure, scenario: Scenario, *, ad_group: int, text: str, match: int, bid: int
) -> int:
    """Append a keyword with latent parameters drawn like the generated ones, and its search terms."""
    mkt = scenario.market
    key = next_id(struct.keyword_key, 13)
    rng = np.random.default_rng([scenario.seed, key, 0x4B])
    # Google's id for the text and match type: shared with any keyword that already has them.
    same = [
        i
        for i, t in enumerate(struct.keyword_text)
        if t == text and int(struct.keyword_match[i]) == match
    ]
    kw_id = int(struct.keyword_id[same[0]]) if same else key  # keys are above every id
    campaign = int(struct.ad_group_campaign[ad_group])
    scale = float(struct.account_money_scale[struct.campaign_account[campaign]])
    # keywords of the same campaign share its price/demand level: reuse the median of its keywords
    siblings = np.flatnonzero(struct.keyword_campaign == campaign)
    if siblings.size:
        price = float(np.median(struct.keyword_cpc_scale[siblings]))
        searches_med = float(np.median(struct.keyword_searches[siblings]))
    else:
        price = mkt.cpc_micros.median * scale
        searches_med = mkt.searches_per_keyword.median
    econ = economics(struct.account_vertical[int(struct.campaign_account[campaign])])
    if not siblings.size:
        price *= econ.cpc
    searches = searches_med * float(np.exp(0.6 * rng.standard_normal())) * (0.6, 1.0, 1.6)[match]
    cpc_scale = price * float(np.exp(0.3 * rng.standard_normal()))
    ctr = min(mkt.ctr.median * float(np.exp(mkt.ctr.sigma * rng.standard_normal())) * econ.ctr, 0.5)
    cvr = min(mkt.cvr.median * float(np.exp(mkt.cvr.sigma * rng.standard_normal())) * econ.cvr, 0.8)
    levels = rng.integers(0, 3, 3)
    qs = int(np.clip(round(1.5 + 1.75 * levels[0] + 1.25 * levels[1] + 1.75 * levels[2]), 1, 10))
    _concat(struct, "keyword_id", [kw_id])
    _concat(struct, "keyword_key", [key])
    _concat(struct, "keyword_ad_group", [ad_group])
    _concat(struct, "keyword_text", [text])
    _concat(struct, "keyword_match", [match])
    _concat(struct, "keyword_bid0", [bid])
    _concat(struct, "keyword_searches", [searches])
    _concat(struct, "keyword_cpc_scale", [cpc_scale])
    _concat(
        struct, "keyword_steepness", [rng.uniform(mkt.rank_steepness.low, mkt.rank_steepness.high)]
    )
    _concat(struct, "keyword_ctr", [ctr])
    _concat(struct, "keyword_cvr", [cvr])
    _concat(
        struct,
        "keyword_value",
        [
            mkt.value_per_conversion.median
            * float(np.exp(mkt.value_per_conversion.sigma * rng.standard_normal()))
            * scale
            * econ.value
        ],
    )
    _concat(struct, "keyword_qs_ctr", [levels[0]])
    _concat(struct, "keyword_qs_relevance", [levels[1]])
    _concat(struct, "keyword_qs_landing", [levels[2]])
    _concat(struct, "keyword_qs", [qs])
    k = struct.n_keywords - 1
    noun = struct.ad_group_noun[ad_group]
    lo, hi = {
        MATCH_TYPES.index(m): (a, b) for m, a, b in scenario.structure.search_terms_per_keyword
    }.get(match, (1, 1))
    n_terms = int(rng.integers(lo, hi + 1))
    texts, relevant, shares = [text], [True], [3.0]
    irrelevance = mkt.irrelevant_term_share * IRRELEVANCE_BY_MATCH[match]
    shares[0] = HEAD_TERM_SHARE[match]
    for j in range(1, n_terms):
        irrelevant = rng.random() < irrelevance
        tail_share = float(np.exp(mkt.term_share_sigma * rng.standard_normal()))
        if match == 0 and not irrelevant:
            texts.append(
                CLOSE_VARIANT_TEMPLATES[j % len(CLOSE_VARIANT_TEMPLATES)].format(kw=text).strip()
            )
            relevant.append(True)
            shares.append(tail_share * 0.4)
        elif irrelevant:
            tmpl = IRRELEVANT_TERM_TEMPLATES[int(rng.integers(len(IRRELEVANT_TERM_TEMPLATES)))]
            texts.append(tmpl.format(noun=text if match < 2 else noun))
            relevant.append(False)
            shares.append(tail_share)
        else:
            tmpl = RELEVANT_TERM_TEMPLATES[int(rng.integers(len(RELEVANT_TERM_TEMPLATES)))]
            texts.append(tmpl.format(kw=text))
            relevant.append(True)
            shares.append(tail_share)
    texts = [t if t not in texts[:i] else f"{t} {i}" for i, t in enumerate(texts)]
    share = np.asarray(shares) / sum(shares)
    rel = np.asarray(relevant)
    first_term = next_id(struct.term_id, 19)
    _concat(struct, "term_id", first_term + 19 * np.arange(len(texts), dtype=np.int64))
    _concat(struct, "term_keyword", np.full(len(texts), k, np.int64))
    _concat(struct, "term_text", texts)
    _concat(struct, "term_share", share)
    _concat(struct, "term_ctr_mult", np.where(rel, 1.0, mkt.irrelevant_ctr_multiplier))
    _concat(struct, "term_cvr_mult", np.where(rel, 1.0, mkt.irrelevant_cvr_multiplier))
    _concat(struct, "term_relevant", rel)
    struct.refresh()
    return k
