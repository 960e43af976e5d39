"""Shell completion of what only remediate knows: playbook names, run ids, inventory servers
and groups (click completes commands, options and files itself).

    eval "$(_REMEDIATE_COMPLETE=bash_source remediate)"     # bash; zsh_source, fish_source
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem


def playbooks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Built-in playbook names, then files (a playbook file, a saved plan)."""
    from remediate.model import catalog

    names = [CompletionItem(name) for name in catalog.builtin_names() if name.startswith(incomplete)]
    return [*names, CompletionItem(incomplete, type="file")]


def runs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Run ids from this journal, newest first (with --state-dir if it was given)."""
    try:
        from remediate.app.history import open_journal
        from remediate.support.statedir import state_dir

        root = ctx.find_root()
        journal = open_journal(state_dir(root.params.get("state_dir")))
        try:
            found = journal.runs(200)
        finally:
            journal.close()
    except Exception:  # completion must never fail loudly
        return []
    return [
        CompletionItem(run.id, help=f"{run.kind} {run.playbook} {run.status}")
        for run in found
        if run.id.startswith(incomplete)
    ]


def runs_or_playbooks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return [*runs(ctx, param, incomplete), *playbooks(ctx, param, incomplete)]


def runs_or_files(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return [*runs(ctx, param, incomplete), CompletionItem(incomplete, type="file")]


def limits(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The servers and groups of the inventory given with -i."""
    path = ctx.params.get("inventory")
    if not path:
        return []
    try:
        from remediate.model import inventory

        loaded = inventory.load(Path(path))
    except Exception:
        return []
    names = [*loaded.inventory.groups, *loaded.inventory.servers]
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
