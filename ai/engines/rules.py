"""The offline default engine: classify by the owner's rules and keyword lists, answer from templates.

It needs no network and no model, so Gatekeeper works out of the box; its confidence says how
much evidence it found, so the policy holds anything it is unsure of for the owner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache

from ai.base import AIClient, AIReply, ConversationContext, RuleHint, Turn
from ai.categories import BANK, CELLPHONE_PROVIDER, OTHER, SPAM, UTILITIES
from ai.promises import find_promises
from ai.prompt import allowed_categories
from ai.replies import category_reply, holding_reply


def _words(listing: str) -> tuple[str, ...]:
    """A keyword list written as comma-separated text, which is easier to read and edit than a tuple."""
    return tuple(word.strip() for word in listing.split(",") if word.strip())


#: Keywords of the built-in categories (`ai/categories.py`), this engine's own knowledge of them,
#: matched as whole words, ignoring case. A word listed under several categories ("bill",
#: "account", ...) is ambiguous: it counts for each of them at half weight, so the sender's name
#: or a more specific word decides.
BUILTIN_KEYWORDS: dict[str, tuple[str, ...]] = {
    CELLPHONE_PROVIDER: _words(
        "mobile, cellphone, cell phone, cellular, smartphone, handset, phone, phone plan, mobile plan, "
        "data plan, mobile data, data usage, unlimited data, gb, roaming, sim, sim card, esim, prepaid, "
        "pre-paid, postpaid, top-up, top up, topup, recharge, minutes, sms, carrier, 5g, 4g, lte, signal, "
        "coverage, port your number, number porting, telecom, wireless, airtime, upgrade, vodafone, verizon, "
        "t-mobile, at&t, telstra, movistar, telcel, airtel, jio, "
        "bill, billing, invoice, payment, due, account, plan, contract, tariff, usage, balance, pin"
    ),
    UTILITIES: _words(
        "electricity, electric, power, power cut, gas, water, meter, meter reading, smart meter, energy, "
        "outage, blackout, kwh, utility, utilities, sewer, sewage, heating, boiler, solar, grid, consumption, "
        "supply, edf, e.on, british gas, con edison, pg&e, iberdrola, enel, engie, octopus energy, "
        "bill, billing, invoice, payment, due, account, plan, contract, tariff, usage"
    ),
    BANK: _words(
        "bank, banking, card, credit card, debit card, transfer, bank transfer, wire transfer, loan, mortgage, "
        "overdraft, statement, bank statement, deposit, withdrawal, atm, iban, swift, savings, interest rate, "
        "credit, debit, fraud, suspicious transaction, transaction, branch, cheque, hsbc, barclays, chase, "
        "santander, bbva, citibank, wells fargo, revolut, monzo, lloyds, natwest, bank of america, "
        "invoice, payment, due, account, balance, pin"
    ),
    SPAM: _words(
        "prize, winner, you won, you have won, you've won, lottery, jackpot, congratulations, crypto, "
        "cryptocurrency, bitcoin, forex, investment opportunity, guaranteed returns, double your money, "
        "click this link, click the link, click here, free gift, gift card, claim your, claim now, "
        "limited time offer, act now, earn money, make money, work from home, casino, risk-free, 100% free, "
        "exclusive offer, bit.ly, tinyurl"
    ),
}

#: How much a keyword found in the sender's name weighs against one found in the message.
NAME_WEIGHT = 1.5
#: How many of the latest company messages are read for keywords.
LATEST_LIMIT = 5
#: How far back to look when the latest messages say nothing recognisable.
HISTORY_LIMIT = 20

CONFIDENCE_PRESET = 0.9
CONFIDENCE_RULE_SENDER = 0.95
CONFIDENCE_RULE_KEYWORDS = 0.85
CONFIDENCE_RULE_KEYWORDS_TIE = 0.5
CONFIDENCE_TIE = 0.4
CONFIDENCE_UNKNOWN = 0.25


@lru_cache(maxsize=2048)
def _pattern(phrase: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern for a keyword or phrase (any spacing between its words)."""
    words = [re.escape(word) for word in phrase.split()]
    return re.compile(r"(?<![\w'\u2019])" + r"\s+".join(words) + r"(?![\w'\u2019])", re.IGNORECASE)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text` as whole words, ignoring case, so "sim" does not match "simple"."""
    return bool(phrase.strip()) and _pattern(phrase.strip()).search(text) is not None


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def sender_matches(pattern: str, name: str, address: str) -> bool:
    """Whether a rule's sender entry names this contact: phone numbers by digits, names as whole words."""
    pattern = pattern.strip()
    if not pattern:
        return False
    digits = _digits(pattern)
    if len(digits) >= 6 and re.fullmatch(r"[\d\s+().-]+", pattern):
        return digits == _digits(address) or digits == _digits(name)
    return contains_phrase(name, pattern) or contains_phrase(address, pattern)


def latest_contact_texts(history: Iterable[Turn], limit: int = LATEST_LIMIT) -> list[str]:
    """The company's latest messages (those after our last answer, else its last one), oldest first."""
    turns = list(history)
    texts: list[str] = []
    for turn in reversed(turns):
        if turn.author == "contact":
            texts.append(turn.text)
            if len(texts) >= limit:
                break
        elif texts:
            break
    texts.reverse()
    return texts


@dataclass
class CategoryEvidence:
    """The keyword evidence found for one category: its score and the words that matched where."""

    score: float = 0.0
    in_message: list[str] = field(default_factory=list)
    in_name: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The matched words, in words."""
        parts = []
        if self.in_name:
            parts.append("in the sender's name " + ", ".join(repr(w) for w in self.in_name))
        if self.in_message:
            parts.append("in the message " + ", ".join(repr(w) for w in self.in_message))
        return "; ".join(parts)


def _keyword_table(categories: list[str]) -> dict[str, tuple[str, ...]]:
    """Built-in keywords for the owner's categories; a custom category is recognised by its own name."""
    table = {}
    for category in categories:
        if category == OTHER:
            continue
        table[category] = BUILTIN_KEYWORDS.get(category, (category.replace("_", " "),))
    return table


def score_categories(
    texts: list[str], contact_name: str, categories: list[str]
) -> dict[str, CategoryEvidence]:
    """Weighted keyword matches per category in the messages and the sender's name."""
    table = _keyword_table(categories)
    owners: dict[str, int] = {}
    for keywords in table.values():
        for keyword in set(keywords):
            owners[keyword] = owners.get(keyword, 0) + 1
    text = "\n".join(texts)
    evidence = {category: CategoryEvidence() for category in table}
    for category, keywords in table.items():
        for keyword in dict.fromkeys(keywords):
            weight = 1.0 if owners[keyword] == 1 else 0.5
            found = evidence[category]
            if contains_phrase(text, keyword):
                found.score += weight
                found.in_message.append(keyword)
            if contact_name and contains_phrase(contact_name, keyword):
                found.score += weight * NAME_WEIGHT
                found.in_name.append(keyword)
    return evidence


class RulesEngine(AIClient):
    """Keyword and rule classification with template replies: offline, instant, honest about doubt."""

    def generate(self, context: ConversationContext) -> AIReply:
        """Classify the conversation, answer with the category's template, and note what it promised."""
        reply = self._classify(context)
        now = context.now or datetime.now(UTC)
        promises = find_promises(latest_contact_texts(context.history), now=now, time_zone=context.time_zone)
        return replace(reply, promises=promises) if promises else reply

    def _classify(self, context: ConversationContext) -> AIReply:
        if context.category:
            return self._answer(
                context,
                context.category,
                CONFIDENCE_PRESET,
                f"The conversation is already classified as {context.category}.",
                {"matched": "preset"},
            )
        latest = latest_contact_texts(context.history)
        matched = self._by_rules(context, latest)
        if matched is not None:
            return matched
        return self._by_keywords(context, latest)

    def _answer(
        self, context: ConversationContext, category: str, confidence: float, reason: str, extra: dict
    ) -> AIReply:
        reply = category_reply(category, context.owner_name)
        return AIReply(
            reply=reply,
            category=category,
            confidence=round(confidence, 2),
            reason=reason,
            extra={"engine": "rules", **extra},
        )

    def _by_rules(self, context: ConversationContext, latest: list[str]) -> AIReply | None:
        """The owner's own rules: a sender match first, then the rule with most keyword matches."""
        for rule in context.rules:
            sender = next(
                (
                    s
                    for s in rule.match_senders
                    if sender_matches(s, context.contact_name, context.contact_address)
                ),
                None,
            )
            if sender is not None:
                return self._answer(
                    context,
                    rule.category,
                    CONFIDENCE_RULE_SENDER,
                    f"The sender matches {sender!r}, listed under the owner's rule for {rule.category}.",
                    {"matched": "rule_sender", "sender": sender},
                )
        text = "\n".join(latest)
        hits: list[tuple[RuleHint, list[str]]] = []
        for rule in context.rules:
            words = [k for k in dict.fromkeys(rule.match_keywords) if contains_phrase(text, k)]
            if words:
                hits.append((rule, words))
        if not hits:
            return None
        hits.sort(key=lambda hit: len(hit[1]), reverse=True)
        rule, words = hits[0]
        quoted = ", ".join(repr(w) for w in words)
        rivals = [other.category for other, other_words in hits[1:] if len(other_words) == len(words)]
        if rivals:
            return self._answer(
                context,
                rule.category,
                CONFIDENCE_RULE_KEYWORDS_TIE,
                f"Ambiguous: the message has keywords of the owner's rule for {rule.category} ({quoted}) "
                f"but as many of the rules for {', '.join(rivals)}.",
                {"matched": "rule_keywords", "keywords": words, "tied_with": rivals},
            )
        return self._answer(
            context,
            rule.category,
            CONFIDENCE_RULE_KEYWORDS,
            f"The message has keywords of the owner's rule for {rule.category}: {quoted}.",
            {"matched": "rule_keywords", "keywords": words},
        )

    def _by_keywords(self, context: ConversationContext, latest: list[str]) -> AIReply:
        """The built-in keyword lists, scored over the latest messages and the sender's name."""
        categories = allowed_categories(context)
        evidence = score_categories(latest, context.contact_name, categories)
        penalty = 0.0
        if not any(e.score for e in evidence.values()):
            earlier = [t.text for t in list(context.history)[-HISTORY_LIMIT:] if t.author == "contact"]
            if earlier != latest:
                evidence = score_categories(earlier, context.contact_name, categories)
                penalty = 0.1
        ranked = sorted(evidence.items(), key=lambda item: item[1].score, reverse=True)
        if not ranked or ranked[0][1].score == 0:
            return AIReply(
                reply=holding_reply(context.owner_name),
                category=OTHER,
                confidence=CONFIDENCE_UNKNOWN,
                reason="Did not recognise the message: no rule of the owner and no known keyword matched it.",
                extra={"engine": "rules", "matched": "nothing"},
            )
        best, found = ranked[0]
        runner_up = ranked[1][1].score if len(ranked) > 1 else 0.0
        margin = found.score - runner_up
        scores = {category: e.score for category, e in evidence.items() if e.score}
        words = found.describe()
        extra = {"matched": "keywords", "scores": scores}
        if margin <= 0:
            tied = [category for category, e in ranked if e.score == found.score]
            return AIReply(
                reply=holding_reply(context.owner_name),
                category=best,
                confidence=round(CONFIDENCE_TIE - penalty, 2),
                reason=(
                    f"Ambiguous: the message fits {' and '.join(tied)} equally ({words}); "
                    f"guessed {best}, the owner should check."
                ),
                extra={"engine": "rules", **extra, "tied_with": tied[1:]},
            )
        confidence = min(0.9, 0.6 + 0.1 * min(margin, 3.0))
        name_decides = bool(found.in_name) and not any(e.in_name for c, e in evidence.items() if c != best)
        if name_decides:
            confidence += 0.1
        confidence = min(0.92, confidence) - penalty
        against = f" against {runner_up:g} for {ranked[1][0]}" if len(ranked) > 1 and runner_up else ""
        where = " (the latest messages said nothing recognisable; earlier ones did)" if penalty else ""
        decides = "; the sender's name decides" if name_decides and runner_up else ""
        return self._answer(
            context,
            best,
            confidence,
            f"Classified as {best} by keywords{where}: {words} (score {found.score:g}{against}{decides}).",
            extra,
        )
