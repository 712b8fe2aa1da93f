"""The report's colours pass WCAG AA: every text colour in its style sheet has a contrast
ratio of at least 4.5:1 against its own background, else its enclosing element's (a link
in the site header stands on the header), else each page background text can stand on
(the page and the cards)."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "report" / "base.html.j2"
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
AA_NORMAL_TEXT = 4.5


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def declarations(body: str) -> dict[str, str]:
    pairs = (d.split(":", 1) for d in body.split(";") if ":" in d)
    return {name.strip(): value.strip() for name, value in pairs}


def colour_rules() -> list[tuple[str, str, str | None]]:
    """(selector, text colour, background colour or None) for each rule setting a colour."""
    style = TEMPLATE.read_text(encoding="utf-8").split("<style", 1)[1].split("</style>", 1)[0]
    backgrounds: dict[str, str] = {}
    rules = []
    for selector, body in RULE.findall(style):
        props = declarations(body)
        own = re.match(r"#[0-9a-fA-F]{6}", props.get("background", ""))
        if own:
            backgrounds[selector.strip()] = own.group()
        colour = props.get("color", "")
        if re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
            rules.append((selector.strip(), colour, own.group() if own else None))
    return [(sel, colour, bg or _enclosing(sel, backgrounds)) for sel, colour, bg in rules]


def _enclosing(selector: str, backgrounds: dict[str, str]) -> str | None:
    """The background of the nearest enclosing selector ("header.site" for "header.site a")."""
    parts = selector.split()
    for end in range(len(parts) - 1, 0, -1):
        background = backgrounds.get(" ".join(parts[:end]))
        if background:
            return background
    return None


def page_backgrounds() -> set[str]:
    style = TEMPLATE.read_text(encoding="utf-8")
    found = set()
    for selector, body in RULE.findall(style):
        if selector.strip() in ("body", "section.card"):
            found.add(declarations(body)["background"][:7])
    return found


def test_the_style_sheet_sets_text_colours_to_check() -> None:
    assert len(colour_rules()) >= 8
    assert page_backgrounds() == {"#f9fafb", "#ffffff"}


def test_every_text_colour_passes_wcag_aa_on_its_background() -> None:
    failures = []
    for selector, colour, background in colour_rules():
        for ground in [background] if background else sorted(page_backgrounds()):
            ratio = contrast(colour, ground)
            if ratio < AA_NORMAL_TEXT:
                failures.append(f"{selector}: {colour} on {ground} is {ratio:.2f}:1")
    assert not failures, failures


def test_the_contrast_formula_matches_known_values() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic just-failing grey
