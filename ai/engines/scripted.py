"""An engine that answers from a script, for tests and demos that need a real engine with known answers.

The script is read on every call, so a test (or a demo operator) can change what the engine says
while worker processes are running, without restarting them.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from ai.base import AIClient, AIError, AIReply, ConversationContext
from ai.categories import OTHER
from ai.promises import read_follow_up, read_promises
from ai.replies import holding_reply

#: Confidence of a scripted answer that does not say.
DEFAULT_CONFIDENCE = 0.5
#: Confidence when no entry matches: a holding draft for the owner.
UNMATCHED_CONFIDENCE = 0.1


class ScriptedEngine(AIClient):
    """Answers with the first script entry whose `match` regex finds the latest company message."""

    #: How an entry's `delay` is waited out; a test gives an instance one that records it instead.
    sleep = staticmethod(time.sleep)

    def __init__(self, alias: str, *, script_path: str = "", script: list | None = None, **options) -> None:
        super().__init__(alias, **options)
        self.script_path = str(script_path or "")
        self.script = script

    def load_script(self) -> list[dict]:
        """The current script: the `script` option if given, else the file, read afresh."""
        if self.script is not None:
            entries = self.script
            source = "the script option"
        elif self.script_path:
            path = Path(self.script_path)
            source = str(path)
            try:
                entries = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return []
            except (OSError, ValueError) as exc:
                raise AIError(f"AI engine {self.alias!r}: cannot read the script {source}: {exc}") from exc
        else:
            return []
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise AIError(f"AI engine {self.alias!r}: the script in {source} must be a JSON list of objects")
        return entries

    def generate(self, context: ConversationContext) -> AIReply:
        """The first matching entry's answer (or its error); a holding draft when nothing matches."""
        latest = next((turn.text for turn in reversed(context.history) if turn.author == "contact"), "")
        for index, entry in enumerate(self.load_script()):
            pattern = entry.get("match")
            if pattern is not None:
                try:
                    if not re.search(str(pattern), latest, re.IGNORECASE):
                        continue
                except re.error as exc:
                    raise AIError(f"AI engine {self.alias!r}: entry {index} has a bad regex: {exc}") from exc
            delay = entry.get("delay")
            if delay:
                self.sleep(float(delay))
            if "error" in entry:
                raise AIError(str(entry["error"]))
            return self._reply(entry, index, context)
        return AIReply(
            reply=holding_reply(context.owner_name),
            category=OTHER,
            confidence=UNMATCHED_CONFIDENCE,
            reason="No entry of the script matched the message.",
            extra={"engine": "scripted", "entry": None},
        )

    def _reply(self, entry: dict, index: int, context: ConversationContext) -> AIReply:
        """An AIReply from one entry, with defaults for what it leaves out."""
        try:
            confidence = float(entry.get("confidence", DEFAULT_CONFIDENCE))
        except (TypeError, ValueError) as exc:
            raise AIError(f"AI engine {self.alias!r}: entry {index} has a bad confidence: {exc}") from exc
        extra = entry.get("extra")
        now = context.now or datetime.now(UTC)
        try:
            follow_up = (
                read_follow_up(entry["follow_up"], now=now, time_zone=context.time_zone)
                if entry.get("follow_up") is not None
                else None
            )
            promises = read_promises(entry.get("promises") or [], now=now, time_zone=context.time_zone)
        except ValueError as exc:
            raise AIError(f"AI engine {self.alias!r}: entry {index}: {exc}") from exc
        return AIReply(
            follow_up=follow_up,
            promises=promises,
            reply=str(entry.get("reply", "")),
            category=str(entry.get("category") or OTHER),
            confidence=min(1.0, max(0.0, confidence)),
            reason=str(entry.get("reason") or f"Scripted answer (entry {index})."),
            extra={"engine": "scripted", "entry": index, **(extra if isinstance(extra, dict) else {})},
        )
