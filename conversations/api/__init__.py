"""The owner's REST API: settings, rules, facts, drafts and conversations (paths fixed in docs/architecture.md)."""
