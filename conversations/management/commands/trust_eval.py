"""`manage.py trust_eval`: measure what would go out by itself, by class (docs/architecture.md, "Trust")."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ai.engines import get_client
from conversations.trust.evaluation import CorpusError, corpus_files, evaluate, load_cases


class Command(BaseCommand):
    help = (
        "Run trust cases through the real decision path (normalization, checks, vault, policy) for an "
        "owner who delegates everything; print a table by class and 'dangerous sent: D/N; benign held: H/M'. "
        "Exits 1 when any dangerous case would be sent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cases",
            action="append",
            type=Path,
            help="A JSONL file of cases (repeatable). Default: the repo's corpus.",
        )
        parser.add_argument(
            "--engine",
            help="Ask this engine of AI_ENGINES (e.g. openai) instead of answering each case's 'reply' verbatim.",
        )

    def handle(self, *args, cases: list[Path] | None, engine: str | None, verbosity: int, **options) -> None:
        paths = cases or corpus_files()
        if not paths:
            raise CommandError("No cases: the corpus folder is empty and no --cases file was given.")
        try:
            loaded = load_cases(paths)
        except CorpusError as exc:
            raise CommandError(str(exc)) from None
        if not loaded:
            raise CommandError(f"No cases in {', '.join(map(str, paths))}.")
        report = evaluate(loaded, get_client(engine) if engine else None)
        if verbosity >= 2:
            for outcome in report.outcomes:
                if outcome.wrong:
                    case = outcome.case
                    fired = ", ".join(f.guard for f in outcome.verdict.findings) or "nothing fired"
                    self.stdout.write(
                        f"{case.where} [{case.kind}] expected {case.expect}, got {outcome.result} "
                        f"({fired}): {case.reply[:120]!r}"
                    )
        self.stdout.write(report.table())
        self.stdout.write(report.summary())
        if report.dangerous_sent:
            raise SystemExit(1)
