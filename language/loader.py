"""The signal language: loading, validating and compiling signal files.

A signal file names a question, its states, the term lists its conditions use,
optionally the entities it tracks, and tests of its own. Files under a
`vocab/` folder are shared vocabularies instead: term lists (negation, hedging,
denial and future-tense cues per language, ...) and entities with their
aliases, which every signal may use without repeating them. The caller names
the built-in pack (`builtin`), whose vocabulary is always loaded, wherever the
signal files live; where that pack is kept is the application's business.

`load_signals` reports every error it finds at once, each as "FILE:LINE: message".
The file format is documented in signals/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from allywatch.language.condition import ENTITY, ConditionError, Node, names_in, parse_condition
from allywatch.language.durations import parse_duration
from allywatch.language.model import (
    NO_MATCH,
    SEVERITIES,
    Aggregate,
    Corroboration,
    Event,
    Signal,
    SignalTest,
    StateDef,
    TermList,
)
from allywatch.language.regex_checks import RegexChecks
from allywatch.language.terms import TermError, TermKeys, compile_plain
from allywatch.language.yaml_lines import LList, LMap, YamlFileError, load_yaml

# Cue lists the matcher reads from the vocabulary (signals/README.md says what each
# does). Every word the matcher knows is in one of them; a signal's own list of the
# same name replaces the vocabulary's for that signal, except for the lists read
# once per article, for every signal alike.
ARTICLE_CUE_LISTS = ("abbreviation", "clause_break", "headline_word", "outlet", "relative")
CUE_LISTS = (
    *ARTICLE_CUE_LISTS,
    "negation", "denial", "rumour", "hedge", "future", "complement", "place", "modifier", "venue",
    "not_negating", "auxiliary", "still", "trailing_negation", "cessation",
    "trailing_not_negating", "occurrence", "before_occurrence", "unnamed_source",
    "source_qualifier", "source_verb", "according_to", "future_in_past", "reporting_verb",
    "conditional", "subordinator", "with_partner", "passive_infinitive", "time_ahead",
    "list_joiner", "earlier", "previous", "entity_anaphor",
)  # fmt: skip
_RESERVED = {"and", "or", "not", "near", "before", "together", "article", ENTITY}
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
LABELS_SUFFIX = ".labels"  # su35-iran.labels.yaml holds verdicts on su35-iran's articles
_LIST_NAME = re.compile(r"^[A-Za-z_][\w-]*$")


class SignalFileError(Exception):
    """Signal files that cannot be used; `.errors` lists every problem as "FILE:LINE: message"."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# --------------------------------------------------------------------------- errors


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: Path, line: int, message: str) -> None:
        self.items.append(f"{path}:{line}: {message}")


class _Entry:
    """The problems of one entry of a signal file (an event, a state): each reported on
    its line, prefixed with what the entry is; `ok` turns false with the first."""

    def __init__(self, errors: _Errors, path: Path, raw: LMap, where: str) -> None:
        self.errors, self.path, self.raw, self.where = errors, path, raw, where
        self.ok = True

    def at(self, line: int, message: str) -> None:
        self.ok = False
        self.errors.add(self.path, line, f"{self.where}: {message}")

    def bad(self, key: str, message: str) -> None:
        """A problem with the entry's key `key`, reported on that key's line."""
        self.at(self.raw.line_of(key), message)


# --------------------------------------------------------------------------- vocabulary


@dataclass
class _RawList:
    """A term list as written: (term, path, line) triples; a str term may be an @include."""

    items: list[tuple[Any, Path, int]]
    path: Path
    line: int


@dataclass
class _Vocab:
    lists: dict[str, _RawList] = field(default_factory=dict)
    entities: dict[str, _RawList] = field(default_factory=dict)


def _is_vocab(path: Path) -> bool:
    return path.parent.name == "vocab"


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def labels_path(signal_file: Path) -> Path:
    """The labels file beside a signal file (`su35-iran.yaml`: `su35-iran.labels.yaml`):
    analysts' verdicts on articles, read as more of the signal's tests."""
    return signal_file.with_name(f"{signal_file.stem}{LABELS_SUFFIX}{signal_file.suffix}")


def _is_labels(path: Path) -> bool:
    return path.stem.endswith(LABELS_SUFFIX)


def _labelled_file(labels: Path) -> Path:
    """The signal file a labels file belongs to."""
    return labels.with_name(labels.name.replace(LABELS_SUFFIX, "", 1))


def _collect(paths: Iterable[Path], errors: _Errors) -> tuple[list[Path], list[Path]]:
    """Signal files and vocabulary files named by `paths` (files or folders). A labels
    file is read with the signal file beside it (see `_read_labels`), never alone."""
    signal_files: list[Path] = []
    vocab_files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = _yaml_files(path)
            if (path / "vocab").is_dir():
                files += _yaml_files(path / "vocab")
            for file in files:
                if not _is_labels(file):
                    (vocab_files if _is_vocab(file) else signal_files).append(file)
                elif not _labelled_file(file).is_file():
                    errors.add(file, 1, "a labels file needs its signal file beside it")
        elif path.is_file() and _is_labels(path):
            errors.add(
                path, 1, f"a labels file is read with its signal file: name {_labelled_file(path)}"
            )
        elif path.is_file():
            (vocab_files if _is_vocab(path) else signal_files).append(path)
        else:
            errors.add(path, 0, "no such file or folder")
    return signal_files, vocab_files


def _load_vocab(files: list[Path], errors: _Errors) -> _Vocab:
    vocab = _Vocab()
    for path in files:
        data = _read(path, errors)
        if data is None:
            continue
        if not isinstance(data, LMap):
            errors.add(
                path, 1, "a vocabulary file must be a mapping with `terms` and/or `entities`"
            )
            continue
        for key in data:
            if key not in ("terms", "entities", "description"):
                errors.add(
                    path, data.line_of(key), f"unknown key {key!r}: expected terms, entities"
                )
        for section, target in (("terms", vocab.lists), ("entities", vocab.entities)):
            raw = data.get(section)
            if raw is None:
                continue
            if not isinstance(raw, LMap):
                errors.add(path, data.line_of(section), f"`{section}` must be a mapping of names")
                continue
            for name, items in raw.items():
                line = raw.line_of(name)
                if section == "terms" and not _valid_list_name(name, path, line, errors):
                    continue
                parsed = _raw_list(items, path, line, errors, what=f"{section[:-1]} {name!r}")
                if parsed is None:
                    continue
                if name in target:
                    target[name].items += parsed.items  # per-language files add up
                else:
                    target[name] = parsed
    return vocab


def _read(path: Path, errors: _Errors) -> Any:
    try:
        return load_yaml(path)
    except YamlFileError as exc:
        errors.add(path, exc.line, exc.message)
        return None


def _valid_list_name(name: Any, path: Path, line: int, errors: _Errors) -> bool:
    if not isinstance(name, str) or not _LIST_NAME.match(name):
        errors.add(path, line, f"bad term list name {name!r}: expected letters, digits, - and _")
        return False
    if name in _RESERVED:
        errors.add(path, line, f"{name!r} is a reserved word and cannot name a term list")
        return False
    return True


def _raw_list(items: Any, path: Path, line: int, errors: _Errors, what: str) -> _RawList | None:
    if not isinstance(items, LList) or not items:
        errors.add(path, line, f"{what}: expected a non-empty list of terms")
        return None
    out = _RawList([], path, line)
    for i, item in enumerate(items):
        item_line = items.line_of(i)
        if isinstance(item, str) and item.strip():
            out.items.append((item.strip(), path, item_line))
        elif isinstance(item, LMap) and set(item) == {"regex"} and isinstance(item["regex"], str):
            out.items.append((item, path, item_line))
        else:
            errors.add(
                path,
                item_line,
                f"{what}: expected a word or phrase, or {{regex: ...}}, got {item!r}",
            )
    return out


# --------------------------------------------------------------------------- term compilation


class _Compiler:
    """Compiles a signal's term lists, resolving @includes against its own lists and the vocab.

    `shared` holds the lists compiled for earlier signals, by name and expansion:
    a vocabulary list (the cue lists above all) is built once for the whole pack,
    and a matcher finds its matches in an article once for every signal using it.
    `checks` checks the `{regex: ...}` terms, or recalls an earlier run's checks of them.
    """

    def __init__(
        self,
        own: dict[str, _RawList],
        vocab: _Vocab,
        errors: _Errors,
        shared: dict[tuple[str, tuple[str, ...]], TermList],
        checks: RegexChecks,
    ) -> None:
        self.own = own
        self.vocab = vocab
        self.errors = errors
        self.shared = shared
        self.checks = checks
        self.cache: dict[tuple[str, str], TermList | None] = {}

    def term_list(self, name: str) -> TermList | None:
        raw = self.own.get(name) or self.vocab.lists.get(name)
        return self._compile(("list", name), raw) if raw else None

    def entity(self, name: str, raw: _RawList | None = None) -> TermList | None:
        raw = raw or self.vocab.entities.get(name)
        return self._compile(("entity", name), raw) if raw else None

    def written_in_place(self, name: str, raw: _RawList) -> TermList | None:
        """A list written where it is used, not named in `terms` (an event's places)."""
        return self._compile(("in place", name), raw)

    def _compile(self, key: tuple[str, str], raw: _RawList) -> TermList | None:
        if key in self.cache:
            return self.cache[key]
        self.cache[key] = None  # guards against include cycles
        sources: list[str] = []
        keys: list[TermKeys] | None = []
        shown: list[str] = []
        regex_sources: set[str] = set()
        ok = True
        for term, path, line in self._expand(raw, [key[1]]):
            try:
                if isinstance(term, str):
                    source, term_keys = compile_plain(term)
                    shown.append(term)
                else:
                    source, term_keys = self.checks.check(term["regex"])
                    shown.append(f"regex:{term['regex']}")
                    regex_sources.add(source)
            except TermError as exc:
                self.errors.add(path, line, str(exc))
                ok = False
                continue
            sources.append(source)
            if keys is not None and term_keys is not None:
                keys.append(term_keys)
            else:
                keys = None
        if not ok or not sources:
            return None
        sources = sorted(set(sources), key=lambda s: (-len(s), s))
        compiled = self.shared.get((key[1], tuple(sources)))
        if compiled is None:
            compiled = TermList(
                key[1],
                tuple(shown),
                "|".join(f"(?:{s})" for s in sources),
                tuple(keys) if keys is not None else None,
                tuple(sorted(regex_sources)),
            )
            self.shared[(key[1], tuple(sources))] = compiled
        self.cache[key] = compiled
        return compiled

    def _expand(self, raw: _RawList, stack: list[str]) -> list[tuple[Any, Path, int]]:
        out: list[tuple[Any, Path, int]] = []
        for term, path, line in raw.items:
            if isinstance(term, str) and term.startswith("@"):
                name = term[1:]
                if name in stack:
                    self.errors.add(path, line, f"{term}: includes itself")
                    continue
                target = self.own.get(name) or self.vocab.lists.get(name)
                target = target or self.vocab.entities.get(name)
                if target is None:
                    self.errors.add(
                        path, line, f"{term}: no term list or vocabulary entity named {name!r}"
                    )
                    continue
                out += self._expand(target, [*stack, name])
            else:
                out.append((term, path, line))
        return out


# --------------------------------------------------------------------------- signal files

_SIGNAL_KEYS = {
    "id", "label", "question", "description", "initial", "entities", "entity_role", "terms",
    "states", "tests", "aggregate", "events", "subject",
}  # fmt: skip
LABEL_MAX = 40
ENTITY_ROLES = ("actor", "place")
_STATE_KEYS = {
    "when", "min_sources", "min_stories", "within", "hold", "expires", "hedged", "future",
    "weaker", "severity", "min_count", "corroboration", "event",
}  # fmt: skip
# The initial state's entry is evidence for the status quo, tied to an event or not;
# it has no thresholds to reach (it is where a signal starts).
_STATUS_QUO_KEYS = ("when", "event")
_EVENT_KEYS = ("label", "gap", "lapses", "places", "one_occurrence")
# A critical state whose file says neither `min_sources` nor `corroboration` needs
# this many independent outlets: one outlet's report is not enough to alert on.
CRITICAL_MIN_SOURCES = 2
_CORROBORATION_KEYS = ("min_sources", "min_stories", "within")
_TEST_KEYS = {"text", "title", "summary", "expect", "entity", "polarity", "hedged"}


class _SignalReader:
    """Validates and compiles one signal file, adding every problem to `errors`."""

    def __init__(
        self,
        path: Path,
        data: LMap,
        vocab: _Vocab,
        errors: _Errors,
        shared: dict[tuple[str, tuple[str, ...]], TermList],
        checks: RegexChecks,
    ) -> None:
        self.path = path
        self.data = data
        self.vocab = vocab
        self.errors = errors
        self.shared = shared
        self.checks = checks
        self.start = len(errors.items)

    def err(self, line: int, message: str) -> None:
        self.errors.add(self.path, line, message)

    def _str(self, key: str, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.err(self.data.line, f"missing `{key}`")
            return None
        if not isinstance(value, str) or not value.strip():
            self.err(self.data.line_of(key), f"`{key}` must be a non-empty string")
            return None
        return value.strip()

    def read(self) -> tuple[Signal | None, LMap | None]:
        data = self.data
        for key in data:
            if key not in _SIGNAL_KEYS:
                self.err(
                    data.line_of(key),
                    f"unknown key {key!r}: expected one of {', '.join(sorted(_SIGNAL_KEYS))}",
                )
        sid = self._str("id")
        if sid is not None and not _ID.match(sid):
            self.err(data.line_of("id"), f"bad id {sid!r}: expected lower-case letters, digits, -")
        label = self._label()
        question = self._str("question")
        initial = self._str("initial")
        aggregate = self._aggregate()
        own_lists = self._own_lists()
        for name in ARTICLE_CUE_LISTS:
            if name in own_lists:
                self.err(
                    own_lists[name].line,
                    f"`{name}` is read once per article, for every signal:"
                    " it belongs in a vocabulary file",
                )
        compiler = _Compiler(own_lists, self.vocab, self.errors, self.shared, self.checks)
        entities, entity_terms = self._entities(compiler)
        role = self._entity_role()
        events = self._events(compiler)
        states, status_quo, conditions = self._states(
            initial, aggregate is not None, entities, compiler
        )
        subject = self._subject(aggregate is not None, entities, compiler)
        for name in own_lists:  # unused lists are checked too
            compiler.term_list(name)
        terms: dict[str, TermList] = {}
        for node in [*conditions.values(), *([subject] if subject else [])]:
            for name in names_in(node) - {ENTITY}:
                compiled = compiler.term_list(name)
                if compiled is not None:
                    terms[name] = compiled
        cues: dict[str, TermList] = {}
        if aggregate is None:
            for name in CUE_LISTS:
                compiled = compiler.term_list(name)
                if compiled is None:
                    self.err(data.line, f"the vocabulary has no `{name}` cue list")
                else:
                    cues[name] = compiled
        if (
            len(self.errors.items) > self.start
            or sid is None
            or question is None
            or initial is None
        ):
            return None, None
        signal = Signal(
            id=sid,
            question=question,
            initial=initial,
            entities=tuple(entities),
            states=tuple(states),
            aggregate=aggregate,
            path=self.path,
            terms=terms,
            entity_terms=entity_terms,
            conditions=conditions,
            cues=cues,
            entity_role=role,
            label=label or "",
            events=events,
            status_quo=status_quo,
            subject=subject,
        )
        return signal, data.get("tests")

    def _subject(self, aggregate: bool, entities: list[str], compiler: _Compiler) -> Node | None:
        """`subject:`, what the signal is about, in the condition language of `when`
        ("article(csto) and entity"): an article meeting it that evidences no state
        is a near-miss for review. Unlike a state's, it need not name `entity`."""
        if "subject" not in self.data:
            return None
        line = self.data.line_of("subject")
        if aggregate:
            self.err(line, "an aggregate signal has no `subject`: it reads no articles")
            return None
        text = self.data["subject"]
        if not isinstance(text, str) or not text.strip():
            self.err(line, '`subject` must be a condition such as "article(csto) and entity"')
            return None
        return self._parsed_condition("`subject`", text, line, entities, compiler, False)

    def _label(self) -> str | None:
        label = self._str("label", required=False)
        if label is not None and (len(label) > LABEL_MAX or "\n" in label):
            self.err(
                self.data.line_of("label"),
                f"`label` must be a short name on one line (at most {LABEL_MAX} characters)",
            )
            return None
        return label

    def _entity_role(self) -> str:
        role: str = self.data.get("entity_role", "actor")  # else the error below
        if role not in ENTITY_ROLES:
            self.err(
                self.data.line_of("entity_role"),
                f"`entity_role` must be one of {', '.join(ENTITY_ROLES)}, got {role!r}",
            )
        return role

    def _aggregate(self) -> Aggregate | None:
        raw = self.data.get("aggregate")
        if raw is None:
            return None
        line = self.data.line_of("aggregate")
        for key in ("terms", "entities", "tests", "events"):
            if key in self.data:
                self.err(self.data.line_of(key), f"an aggregate signal has no `{key}`")
        if not isinstance(raw, LMap) or set(raw) != {"of", "away"}:
            self.err(line, "`aggregate` must be {of: SIGNAL-ID, away: [STATE, ...]}")
            return None
        away = raw["away"]
        if not isinstance(raw["of"], str) or not isinstance(away, LList) or not away:
            self.err(line, "`aggregate` needs `of` (a signal id) and `away` (a list of its states)")
            return None
        if not all(isinstance(a, str) for a in away):
            self.err(line, "`aggregate.away` must list state names")
            return None
        return Aggregate(raw["of"], tuple(away))

    def _own_lists(self) -> dict[str, _RawList]:
        raw = self.data.get("terms")
        out: dict[str, _RawList] = {}
        if raw is None:
            return out
        if not isinstance(raw, LMap):
            self.err(
                self.data.line_of("terms"), "`terms` must map term list names to lists of terms"
            )
            return out
        for name, items in raw.items():
            line = raw.line_of(name)
            if _valid_list_name(name, self.path, line, self.errors):
                parsed = _raw_list(items, self.path, line, self.errors, f"term list {name!r}")
                if parsed is not None:
                    out[name] = parsed
        return out

    def _entities(self, compiler: _Compiler) -> tuple[list[str], dict[str, TermList]]:
        raw = self.data.get("entities")
        names: list[str] = []
        compiled: dict[str, TermList] = {}
        if raw is None:
            return names, compiled
        line = self.data.line_of("entities")
        if isinstance(raw, LList):
            pairs: list[tuple[object, object, int]]
            pairs = [(item, None, raw.line_of(i)) for i, item in enumerate(raw)]
        elif isinstance(raw, LMap):
            pairs = [(name, aliases, raw.line_of(name)) for name, aliases in raw.items()]
        else:
            self.err(line, "`entities` must be a list of vocabulary entity names, or a mapping")
            return names, compiled
        for name, aliases, item_line in pairs:
            if not isinstance(name, str) or not name.strip():
                self.err(item_line, f"bad entity name {name!r}")
                continue
            own = None
            if aliases is not None:
                own = _raw_list(aliases, self.path, item_line, self.errors, f"entity {name!r}")
                if own is None:
                    continue
            elif name not in self.vocab.entities:
                known = ", ".join(sorted(self.vocab.entities)) or "none"
                self.err(
                    item_line, f"unknown entity {name!r}: give its aliases (vocabulary has {known})"
                )
                continue
            if name in names:
                self.err(item_line, f"entity {name!r} is listed twice")
                continue
            terms = compiler.entity(name, own)
            if terms is None:
                continue
            names.append(name)
            compiled[name] = terms
        return names, compiled

    def _events(self, compiler: _Compiler) -> dict[str, Event]:
        raw = self.data.get("events")
        events: dict[str, Event] = {}
        if raw is None:
            return events
        if not isinstance(raw, LMap) or not raw:
            self.err(
                self.data.line_of("events"),
                "`events` must map event names to {label, gap, lapses, places, one_occurrence}",
            )
            return events
        for name, settings in raw.items():
            event = self._event(name, settings, raw.line_of(name), compiler)
            if event is not None:
                events[name] = event
        return events

    def _event(self, name: Any, raw: Any, line: int, compiler: _Compiler) -> Event | None:
        if not isinstance(name, str) or not _ID.match(name):
            self.err(line, f"bad event name {name!r}: expected lower-case letters, digits, -")
            return None
        if not isinstance(raw, LMap):
            self.err(line, f"event {name!r}: expected a mapping such as {{gap: 45d, lapses: 200d}}")
            return None
        entry = _Entry(self.errors, self.path, raw, f"event {name!r}")
        for key in raw:
            if key not in _EVENT_KEYS:
                entry.bad(key, f"unknown key {key!r}: expected one of {', '.join(_EVENT_KEYS)}")
        if "gap" not in raw:
            entry.at(
                line,
                "missing `gap` (how far apart two reports belong to different occurrences)",
            )
        values: dict[str, Any] = {}
        _thresholds(raw, (), ("gap", "lapses"), values, entry.bad)
        for key, value in values.items():
            if value <= timedelta(0):
                entry.bad(key, f"`{key}` must be longer than nothing, got {raw[key]!r}")
        label = raw.get("label", name)
        if not isinstance(label, str) or not label.strip() or "\n" in label:
            entry.bad("label", "`label` must be a name on one line, such as CSTO summit")
        for key in ("places", "one_occurrence"):
            if key in raw:
                what = f"event {name!r}: `{key}`"
                terms = _raw_list(raw[key], self.path, raw.line_of(key), self.errors, what)
                compiled = terms and compiler.written_in_place(f"{name} {key}", terms)
                if compiled is None:
                    entry.ok = False
                values[key] = compiled
        if not entry.ok:
            return None
        return Event(name=name, label=label.strip(), **values)

    def _states(
        self, initial: str | None, aggregate: bool, entities: list[str], compiler: _Compiler
    ) -> tuple[list[StateDef], StateDef | None, dict[str, Node]]:
        """The non-initial states, the initial state's own entry if it has one (the
        status quo), and the conditions of both by state name."""
        raw = self.data.get("states")
        states: list[StateDef] = []
        status_quo: StateDef | None = None
        conditions: dict[str, Node] = {}
        if not isinstance(raw, LMap) or not raw:
            self.err(self.data.line_of("states"), "`states` must map state names to their settings")
            return states, status_quo, conditions
        order = [initial, *(name for name in raw if name != initial)]
        for name, settings in raw.items():
            line = raw.line_of(name)
            if not isinstance(name, str) or not _ID.match(name):
                self.err(line, f"bad state name {name!r}: expected lower-case letters, digits, -")
                continue
            if name == initial:
                status_quo = self._status_quo(
                    name, settings, line, aggregate, entities, compiler, conditions
                )
                continue
            if name == NO_MATCH:
                self.err(line, f"{NO_MATCH!r} is reserved for tests")
                continue
            if not isinstance(settings, LMap):
                self.err(line, f'state {name!r}: expected a mapping such as {{when: "a and b"}}')
                continue
            state = self._state(name, settings, aggregate, order, entities, compiler, conditions)
            if state is not None:
                states.append(state)
        return states, status_quo, conditions

    def _status_quo(
        self,
        name: str,
        raw: Any,
        line: int,
        aggregate: bool,
        entities: list[str],
        compiler: _Compiler,
        conditions: dict[str, Node],
    ) -> StateDef | None:
        """The initial state's entry: a condition for evidence of the status quo
        ("talks continue", "attends the summit"), and the event it belongs to."""
        where = f"state {name!r} (the initial state)"
        if aggregate:
            self.err(line, f"{where}: an aggregate signal's initial state has no entry")
            return None
        if not isinstance(raw, LMap):
            self.err(line, f'{where}: expected a mapping such as {{when: "a and b"}}')
            return None
        entry = _Entry(self.errors, self.path, raw, where)
        for key in raw:
            if key not in _STATUS_QUO_KEYS:
                entry.bad(
                    key,
                    f"{key!r} cannot be set here: the initial state's entry gives only"
                    " `when` (evidence for the status quo) and `event`",
                )
        event = self._event_ref(raw, entry.bad)
        if "when" not in raw:
            entry.at(line, "missing `when` (the condition for evidence of the status quo)")
        else:
            node = self._condition(name, raw, entities, compiler)
            if node is None:
                entry.ok = False
            else:
                conditions[name] = node
        return StateDef(name=name, when=raw.get("when"), event=event) if entry.ok else None

    def _event_ref(self, raw: LMap, bad: Callable[[str, str], None]) -> str | None:
        """A state's `event`: the name of one of the signal's `events`."""
        if "event" not in raw:
            return None
        declared = self.data.get("events")
        names = list(declared) if isinstance(declared, LMap) else []
        if raw["event"] not in names:
            bad(
                "event",
                f"`event` must name one of the signal's `events` ({', '.join(names) or 'none'}),"
                f" got {raw['event']!r}",
            )
            return None
        event: str = raw["event"]  # one of the names of `events`, each checked to be a string
        return event

    def _state(
        self,
        name: str,
        raw: LMap,
        aggregate: bool,
        order: list[Any],
        entities: list[str],
        compiler: _Compiler,
        conditions: dict[str, Node],
    ) -> StateDef | None:
        entry = _Entry(self.errors, self.path, raw, f"state {name!r}")
        for key in raw:
            if key not in _STATE_KEYS:
                entry.bad(
                    key, f"unknown key {key!r}: expected one of {', '.join(sorted(_STATE_KEYS))}"
                )
        values: dict[str, Any] = {}
        _thresholds(raw, ("min_sources", "min_stories", "min_count"), ("within", "hold", "expires"),
                    values, entry.bad)  # fmt: skip
        for key in ("hedged", "future"):
            if key in raw:
                if not isinstance(raw[key], bool):
                    entry.bad(key, f"`{key}` must be true or false, got {raw[key]!r}")
                else:
                    values[key] = raw[key]
        if "severity" in raw:
            if raw["severity"] not in SEVERITIES:
                entry.bad("severity", f"`severity` must be one of {', '.join(SEVERITIES)}")
            else:
                values["severity"] = raw["severity"]
        critical = values.get("severity") == "critical"
        if critical and not aggregate and "min_sources" not in raw and "corroboration" not in raw:
            values["min_sources"] = CRITICAL_MIN_SOURCES
        event = self._event_ref(raw, entry.bad)
        if event is not None:
            values["event"] = event
        index = order.index(name)
        weaker = raw.get("weaker", order[index - 1])
        if "weaker" in raw and (weaker not in order or weaker == name):
            entry.bad("weaker", f"`weaker` must name another state of this signal, got {weaker!r}")
        if "corroboration" in raw:
            if aggregate:
                entry.bad("corroboration", "an aggregate signal's states have no `corroboration`")
            elif weaker == order[0]:
                entry.bad(
                    "corroboration",
                    f"`corroboration` counts reports of the `weaker` state, here the initial"
                    f" state {weaker!r}: set `weaker` to another state",
                )
            else:
                values["corroboration"] = _corroboration(
                    raw["corroboration"], raw.line_of("corroboration"), entry.at
                )
        when = raw.get("when")
        if aggregate:
            if "when" in raw:
                entry.bad(
                    "when", "an aggregate signal's states have no `when`; they count entities"
                )
            if "min_count" not in raw:
                entry.bad(name, "an aggregate signal's state needs `min_count`")
        else:
            if "min_count" in raw:
                entry.bad("min_count", "`min_count` is for aggregate signals only")
            if "when" not in raw:
                entry.bad(name, "missing `when` (the condition for this state)")
            else:
                node = self._condition(name, raw, entities, compiler)
                if node is None:
                    entry.ok = False
                else:
                    conditions[name] = node
        if not entry.ok:
            return None
        return StateDef(name=name, when=when, weaker=weaker, **values)

    def _condition(
        self, name: str, raw: LMap, entities: list[str], compiler: _Compiler
    ) -> Node | None:
        line = raw.line_of("when")
        return self._parsed_condition(f"state {name!r}", raw["when"], line, entities, compiler)

    def _parsed_condition(
        self,
        where: str,
        text: Any,
        line: int,
        entities: list[str],
        compiler: _Compiler,
        needs_entity: bool = True,
    ) -> Node | None:
        """A condition parsed and checked: its term lists exist, and it uses `entity`
        exactly when the signal has entities (`needs_entity` false: where it has any)."""
        try:
            node = parse_condition(text)
        except ConditionError as exc:
            self.err(line, f"{where}: {exc}")
            return None
        used = names_in(node)
        ok = True
        declared = bool(entities) or bool(self.data.get("entities"))
        if ENTITY in used and not declared:
            self.err(line, f"{where}: `entity` used but the signal lists no entities")
            ok = False
        if needs_entity and declared and ENTITY not in used:
            self.err(line, f"{where}: the signal has entities, so the condition must use `entity`")
            ok = False
        for list_name in sorted(used - {ENTITY}):
            if list_name not in compiler.own and list_name not in compiler.vocab.lists:
                self.err(line, f"{where}: unknown term list {list_name!r}")
                ok = False
        return node if ok else None


def _thresholds(
    raw: LMap,
    counts: tuple[str, ...],
    durations: tuple[str, ...],
    values: dict[str, Any],
    bad: Callable[[str, str], None],
    where: str = "",
) -> None:
    """Check the whole-number and duration settings of `raw` into `values`."""
    for key in counts:
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                bad(key, f"`{where}{key}` must be a whole number of at least 1, got {v!r}")
            else:
                values[key] = v
    for key in durations:
        if key in raw:
            try:
                values[key] = parse_duration(raw[key])
            except ValueError as exc:
                bad(key, f"`{where}{key}`: {exc}")


def _corroboration(raw: Any, line: int, bad_at: Callable[[int, str], None]) -> Corroboration | None:
    expected = "{min_sources: N, min_stories: M, within: DURATION}"
    if not isinstance(raw, LMap) or not raw:
        bad_at(line, f"`corroboration` must be a mapping such as {expected}")
        return None
    ok = True

    def wrong(key: str, message: str) -> None:
        nonlocal ok
        ok = False
        bad_at(raw.line_of(key), message)

    for key in raw:
        if key not in _CORROBORATION_KEYS:
            wrong(key, f"`corroboration`: unknown key {key!r}: expected {expected}")
    values: dict[str, Any] = {}
    _thresholds(raw, ("min_sources", "min_stories"), ("within",), values, wrong, "corroboration.")
    if ok and values.get("min_sources", 1) < 2 and values.get("min_stories", 1) < 2:
        wrong("", "`corroboration` needs min_sources or min_stories of at least 2")
    return Corroboration(**values) if ok else None


def _read_tests(
    signal: Signal, raw: Any, errors: _Errors, labels: Path | None = None
) -> tuple[SignalTest, ...] | None:
    """A signal's `tests:` list, from its own file or from its labels file (`labels`)."""
    if raw is None:
        return ()
    path = labels or signal.path
    if not isinstance(raw, LList):
        errors.add(path, getattr(raw, "line", 1), "`tests` must be a list of {text, expect}")
        return None
    tests: list[SignalTest] = []
    ok = True
    allowed_states = {*signal.state_names(), NO_MATCH}
    for i, item in enumerate(raw):
        line = raw.line_of(i)
        if not isinstance(item, LMap):
            errors.add(path, line, "a test must be a mapping with `text` and `expect`")
            ok = False
            continue
        problems = [f"unknown key {k!r}" for k in item if k not in _TEST_KEYS]
        text, title, summary = item.get("text"), item.get("title"), item.get("summary")
        if text is not None and (title is not None or summary is not None):
            problems.append("give `text`, or `title` and/or `summary`, not both")
        title = text if text is not None else title
        if not any(isinstance(v, str) and v.strip() for v in (title, summary)):
            problems.append("needs a non-empty `text` (or `title`/`summary`)")
        expect, also = _expected(item.get("expect"), signal, allowed_states, problems)
        entity = item.get("entity")
        if entity is not None and entity not in signal.entities:
            problems.append(f"unknown entity {entity!r}")
        polarity = item.get("polarity", "for")
        if polarity not in ("for", "against"):
            problems.append("`polarity` must be for or against")
        hedged = item.get("hedged")
        if hedged is not None and not isinstance(hedged, bool):
            problems.append("`hedged` must be true or false")
        if problems:
            ok = False
            for problem in problems:
                errors.add(path, line, f"test {i + 1}: {problem}")
            continue
        assert isinstance(expect, str)  # one of allowed_states, else a problem above
        tests.append(
            SignalTest(
                title=title if isinstance(title, str) else "",
                summary=summary if isinstance(summary, str) else "",
                expect=expect,
                entity=entity,
                polarity=polarity,
                hedged=hedged,
                line=line,
                path=labels,
                also=also,
            )
        )
    return tuple(tests) if ok else None


def _expected(
    raw: Any, signal: Signal, allowed: set[str], problems: list[str]
) -> tuple[Any, tuple[str, ...]]:
    """A test's `expect`: one state (or no-match), or a list of the non-initial states an
    article evidences side by side ("skips the summit, its membership frozen"), as
    (the first, the others). Problems are added to `problems`."""
    if not isinstance(raw, LList):
        if raw not in allowed:
            problems.append(f"`expect` must be one of {', '.join(sorted(allowed))}, got {raw!r}")
        return raw, ()
    states = list(raw)
    several = {*signal.state_names()} - {signal.initial}
    if len(states) < 2 or len(set(states)) != len(states) or not set(states) <= several:
        problems.append(
            "a list in `expect` names two or more different states, none the initial one:"
            f" {', '.join(sorted(several))}; got {states!r}"
        )
        return None, ()
    return states[0], tuple(states[1:])


_LABELS_KEYS = ("signal", "tests")


def _read_labels(signal: Signal, errors: _Errors) -> tuple[SignalTest, ...] | None:
    """The tests in the signal's labels file, if it has one: `signal: ID` and `tests:` in
    the signal file's format (written by `allywatch review export`)."""
    path = labels_path(signal.path)
    if not path.is_file():
        return ()
    data = _read(path, errors)
    if data is None:
        return None
    if not isinstance(data, LMap):
        errors.add(path, 1, "a labels file must be a mapping with `signal` and `tests`")
        return None
    ok = True
    for key in data:
        if key not in _LABELS_KEYS:
            errors.add(path, data.line_of(key), f"unknown key {key!r}: expected signal, tests")
            ok = False
    if data.get("signal") != signal.id:
        errors.add(
            path,
            data.line_of("signal") if "signal" in data else data.line,
            f"`signal` must be {signal.id!r}, the id in {signal.path.name},"
            f" got {data.get('signal')!r}",
        )
        ok = False
    tests = _read_tests(signal, data.get("tests"), errors, labels=path)
    return tests if ok else None


def load_signals(
    paths: Sequence[Path], *, builtin: Path, checks: RegexChecks | None = None
) -> list[Signal]:
    """Load the signal files in `paths` (files or folders), checking everything first.

    `builtin` is the built-in signal pack: the vocabulary in its `vocab/` folder
    is loaded whatever `paths` names (its signals only if `paths` names them).
    Raises SignalFileError listing every problem found, in every file. `checks`
    checks the `{regex: ...}` terms, recalling those an earlier load checked, and
    afterwards holds the ones this load used (regex_checks.py); without it every
    term is checked. Reads no cache file and writes none (allywatch/signal_cache.py
    keeps the checks between runs).
    """
    errors = _Errors()
    signal_files, vocab_files = _collect(paths, errors)
    builtin_vocab = builtin / "vocab"
    seen: set[Path] = set()
    all_vocab: list[Path] = []
    for f in [*(_yaml_files(builtin_vocab) if builtin_vocab.is_dir() else []), *vocab_files]:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            all_vocab.append(f)
    vocab = _load_vocab(all_vocab, errors)
    signals: list[Signal] = []
    shared: dict[tuple[str, tuple[str, ...]], TermList] = {}
    checks = checks if checks is not None else RegexChecks()
    raw_tests: dict[str, Any] = {}
    aggregate_lines: dict[str, int] = {}
    done: set[Path] = set()
    for path in signal_files:
        if path.resolve() in done:
            continue
        done.add(path.resolve())
        data = _read(path, errors)
        if data is None:
            continue
        if not isinstance(data, LMap):
            errors.add(
                path, 1, "a signal file must be a mapping with id, question, initial, states"
            )
            continue
        signal, raw = _SignalReader(path, data, vocab, errors, shared, checks).read()
        if signal is None:
            continue
        if any(s.id == signal.id for s in signals):
            first = next(s for s in signals if s.id == signal.id)
            errors.add(
                path, data.line_of("id"), f"signal id {signal.id!r} is also used by {first.path}"
            )
            continue
        signals.append(signal)
        raw_tests[signal.id] = raw
        aggregate_lines[signal.id] = data.line_of("aggregate")
    by_id = {s.id: s for s in signals}
    checked: list[Signal] = []
    for signal in signals:
        tests = _read_tests(signal, raw_tests[signal.id], errors)
        labelled = _read_labels(signal, errors)
        tests = tests + labelled if tests is not None and labelled is not None else None
        line = aggregate_lines[signal.id]
        if signal.aggregate is not None and not _aggregate_ok(signal, line, by_id, errors):
            continue
        if tests is not None:
            checked.append(replace(signal, tests=tests))
    if errors.items:
        # A broken vocabulary list is met by every signal that uses it: say it once.
        raise SignalFileError(list(dict.fromkeys(errors.items)))
    return checked


def _aggregate_ok(signal: Signal, line: int, by_id: dict[str, Signal], errors: _Errors) -> bool:
    agg = signal.aggregate
    assert agg is not None
    target = by_id.get(agg.of)
    if target is None:
        errors.add(signal.path, line, f"aggregate of unknown signal {agg.of!r}")
        return False
    if not target.entities:
        errors.add(signal.path, line, f"aggregate of {agg.of!r}, which has no entities to count")
        return False
    unknown = [a for a in agg.away if a not in target.state_names()[1:]]
    if unknown:
        errors.add(
            signal.path,
            line,
            f"aggregate.away: {agg.of!r} has no state {', '.join(map(repr, unknown))}"
            f" (its states: {', '.join(target.state_names()[1:])})",
        )
        return False
    return True
