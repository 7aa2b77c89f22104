"""What a receipt is made of: its parts per language, and the checklist sorted the way a parent
acts on it. Plain data, so the screen, the print view and the printer share one structure."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.domain.catalog import Category, Channel, ChecklistItem


@dataclass
class ReceiptPart:
    lang: str
    title: str
    rows: list[tuple[str, str]]
    sections: list[tuple[str, str, list[str]]]  # (kind, heading, one line per document)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReceiptChecklist:
    """What a parent must bring for one service, channel and family situation, sorted the way they act on it."""

    made_here: tuple[ChecklistItem, ...]  # the application: this kiosk made it
    originals: tuple[ChecklistItem, ...]  # shown in original for comparison and handed back
    copies: tuple[ChecklistItem, ...]  # copies handed in (some with the original shown beside)
    hand_in: tuple[ChecklistItem, ...]  # the rest: certificates, photos, conclusions handed in


def receipt_checklist(channel: Channel, category: Category | None) -> ReceiptChecklist:
    """Every document of the channel (with the category's, when its source lists one there), none left out."""
    items = channel.checklist(category)
    return ReceiptChecklist(
        made_here=tuple(i for i in items if i.document.made_here),
        originals=tuple(i for i in items if not i.document.made_here and i.original and not i.copy),
        copies=tuple(i for i in items if not i.document.made_here and i.copy),
        hand_in=tuple(i for i in items if not (i.document.made_here or i.copy or i.original)),
    )
