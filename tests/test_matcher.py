"""The matcher: reading articles for evidence (negation, denial, hedging, entities)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allywatch.language.loader import load_signals
from allywatch.language.records import Observation
from allywatch.resources import builtin_dir
from allywatch.watchers.matcher import Matcher
from allywatch.watchers.text import html_to_text

GADGETS = """
id: gadget-exports
question: Has Ruritania delivered gadgets to Freedonia?
initial: none
terms:
  gadget: [gadget*, гаджет*]
  freedonia: [Freedonia*, Фридони*]
  buy: [buy*, bought, contract*, купи*]
  delivery: [delivered, arriv*, received, поставил*]
  official: [confirm*]
states:
  deal: {when: "gadget and freedonia and buy", future: true}
  delivery-reported: {when: "gadget and freedonia and delivery", hedged: true}
  delivered: {when: "gadget and freedonia and delivery and official"}
"""

CLUB = """
id: club-attendance
question: Do the members attend the club's summits?
initial: attending
entities: {Avalon: [Avalon*, Arthur], Brigadoon: [Brigadoon*, Minsk], Camelot: [Camelot*, Lancelot]}
terms:
  club: [Round Table]
  meeting: [summit*, meeting*]
  away: [skip*, stay* away, not attend]
states:
  absent: {when: "near(entity, away, 6) and meeting and article(club)", future: true}
"""

MISSIONS = """
id: missions
question: Are knights stationed abroad?
initial: none
entity_role: place
entities: {Avalon: [Avalon], Brigadoon: [Brigadoon]}
terms:
  knights: [knights]
  present: [stationed, arrived]
states:
  stationed: {when: "near(knights, entity, 4) and present"}
"""

EXITS = """
id: exits
question: Does a member leave the Round Table?
initial: member
entities: {Avalon: [Avalon], Brigadoon: [Brigadoon]}
terms:
  club: [Round Table]
  leave: [leaves, left]
states:
  left: {when: "before(entity, leave, 3) and before(leave, club, 3)"}
"""

PIPES = """
id: big-pipe
question: Is the Big Pipe agreed?
initial: talks
terms:
  pipe: [Big Pipe]
  sign: [sign, signs, signed]
states:
  agreement: {when: "together(sign, pipe, 6)"}
"""

PACK = builtin_dir("signals")  # its vocabulary is always loaded


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    folder = tmp_path_factory.mktemp("signals")
    signals = {
        "gadgets": GADGETS,
        "club": CLUB,
        "missions": MISSIONS,
        "exits": EXITS,
        "pipes": PIPES,
    }
    for name, body in signals.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return Matcher(load_signals([folder], builtin=PACK))


def found(matcher: Matcher, title: str, summary: str = "", signal: str | None = None) -> set:
    return {
        (o.entity, o.state, o.polarity, o.hedged) if o.entity else (o.state, o.polarity, o.hedged)
        for o in matcher.match(title, summary)
        if signal is None or o.signal == signal
    }


def test_plain_report(matcher: Matcher) -> None:
    assert found(matcher, "Gadgets arrived in Freedonia on Monday") == {
        ("delivery-reported", "for", False)
    }


def test_strongest_state_only(matcher: Matcher) -> None:
    text = "Freedonia confirmed it received the gadgets it bought"
    assert found(matcher, text) == {("delivered", "for", False)}


@pytest.mark.parametrize(
    "text",
    [
        "Ruritania has not delivered gadgets to Freedonia",
        "No gadgets have arrived in Freedonia",
        "Freedonia has yet to receive gadgets... it never received gadgets",
        "Freedonia never received the gadgets",
        "Руритания не поставила гаджеты Фридонии",
    ],
)
def test_negation_in_scope_means_no_evidence(matcher: Matcher, text: str) -> None:
    assert found(matcher, text) == set()


def test_negation_out_of_scope_does_not_count(matcher: Matcher) -> None:
    # "not" negates "cheap", in another clause, far from the matched words.
    text = "The gadgets were not cheap, but they arrived in Freedonia on time"
    assert found(matcher, text) == {("delivery-reported", "for", False)}
    assert found(matcher, "Not only did gadgets arrive in Freedonia") == {
        ("delivery-reported", "for", False)
    }


@pytest.mark.parametrize(
    "summary",
    [
        "Many said it would not. Gadgets arrived in Freedonia on Monday.",
        "Руритания обещала и не поставила. Гаджеты поставил кто-то в Фридонию.",
        # A summary that repeats the title first, as many feeds do.
        "Freedonia will not wait. Gadgets arrived in Freedonia on Monday.",
    ],
)
def test_a_negation_ending_the_sentence_before_does_not_count(
    matcher: Matcher, summary: str
) -> None:
    # The negation is within a few words of the match, but in another sentence.
    assert found(matcher, "News", summary) == {("delivery-reported", "for", False)}


def test_denial_is_evidence_against(matcher: Matcher) -> None:
    assert found(matcher, "Freedonia denies it received gadgets") == {
        ("delivery-reported", "against", False)
    }


def test_speculation_evidences_only_the_weaker_state(matcher: Matcher) -> None:
    # A planned delivery is a deal, not a delivery.
    assert found(matcher, "Freedonia plans to have the gadgets delivered") == {
        ("deal", "for", True)
    }
    assert found(matcher, "Freedonia may have received gadgets") == {("deal", "for", True)}
    assert found(matcher, "Freedonia may buy gadgets") == {("none", "for", True)}
    assert found(matcher, "Have gadgets arrived in Freedonia?") == {("deal", "for", True)}


def test_speculation_on_a_confirmed_state_is_no_report_of_it(matcher: Matcher) -> None:
    # Hedged, `delivered` would fall to `delivery-reported`, the same delivery reported;
    # speculation or a plan is no report, so it falls as that state's own reading does.
    assert found(matcher, "Freedonia may have received gadgets, officials confirm") == {
        ("deal", "for", True)
    }
    assert found(matcher, "Gadgets will be delivered to Freedonia, officials confirm") == {
        ("deal", "for", False)
    }
    # A rumour is a report: it stays one.
    assert found(matcher, "Gadgets have reportedly arrived in Freedonia, officials confirm") == {
        ("delivery-reported", "for", True)
    }


def test_rumour_counts_where_the_state_accepts_it(matcher: Matcher) -> None:
    assert found(matcher, "Gadgets have reportedly arrived in Freedonia") == {
        ("delivery-reported", "for", True)
    }
    # `deal` does not accept hedged reports: a rumoured deal is no deal.
    assert found(matcher, "Freedonia allegedly bought gadgets") == {("none", "for", True)}


def test_future_counts_where_the_state_accepts_it(matcher: Matcher) -> None:
    assert found(matcher, "Freedonia will buy gadgets") == {("deal", "for", False)}
    # A delivery due next year is a deal, and `deal` accepts reports of the future.
    assert found(matcher, "Gadgets will be delivered to Freedonia next year") == {
        ("deal", "for", False)
    }


def test_an_infinitive_after_an_agreement_word_is_its_content_not_the_future(
    matcher: Matcher,
) -> None:
    signed = {("agreement", "for", False)}
    assert (
        found(matcher, "Freedonia signs a deal to build the Big Pipe", signal="big-pipe") == signed
    )
    assert found(matcher, "Freedonia agreed to sign the Big Pipe contract", signal="big-pipe") == (
        signed
    )
    assert found(matcher, "Freedonia to sign the Big Pipe deal", signal="big-pipe") == {
        ("talks", "for", True)
    }


def test_together_asks_for_one_clause(matcher: Matcher) -> None:
    signed = {("agreement", "for", False)}
    assert found(matcher, "Freedonia signed the Big Pipe deal", signal="big-pipe") == signed
    # A headline's colon names the topic; it does not split the clause.
    assert found(matcher, "Big Pipe: Freedonia signs at last", signal="big-pipe") == signed
    text = "Freedonia signed ten deals, but the Big Pipe was not one"
    assert found(matcher, text, signal="big-pipe") == set()
    assert found(matcher, "Freedonia signed ten deals; Big Pipe next", signal="big-pipe") == set()


def test_cues_in_another_clause_do_not_hedge(matcher: Matcher) -> None:
    # After the match, only its own clause counts.
    text = "Freedonia signed for the Big Pipe; a contract is expected"
    assert found(matcher, text, signal="big-pipe") == {("agreement", "for", False)}
    text = "Gadgets arrived in Freedonia and may be shown at a fair"
    assert found(matcher, text) == {("delivery-reported", "for", False)}
    # Inside it, only a clause holding part of the match.
    text = "Round Table summit: Lancelot hopes for unity; Arthur stays away"
    assert found(matcher, text, signal="club-attendance") == {("Avalon", "absent", "for", False)}
    # Still hedged: the cue shares the clause.
    text = "Round Table summit: Arthur may stay away"
    assert found(matcher, text, signal="club-attendance") == {("Avalon", "attending", "for", True)}


def test_a_cue_ending_a_hyphenated_compound_describes_rather_than_hedges(
    matcher: Matcher,
) -> None:
    # "long-expected" describes the deal; "expected" on its own hedges it.
    signed = {("agreement", "for", False)}
    text = "Freedonia signed the long-expected Big Pipe deal"
    assert found(matcher, text, signal="big-pipe") == signed
    text = "Freedonia signed the Big Pipe deal, long expected"
    assert found(matcher, text, signal="big-pipe") == signed
    text = "Freedonia is expected to sign the Big Pipe deal"
    assert found(matcher, text, signal="big-pipe") == {("talks", "for", True)}
    # Gadgets that will arrive are a deal, but "the much-awaited gadgets" arrived.
    assert found(matcher, "The much-awaited gadgets arrived in Freedonia") == {
        ("delivery-reported", "for", False)
    }


def test_a_negated_predicate_after_the_match_means_no_evidence(matcher: Matcher) -> None:
    assert found(matcher, "Gadget deliveries to Freedonia have not started") == set()
    assert found(matcher, "Gadget deliveries to Freedonia never began") == set()
    # Not a negation of what was matched.
    assert found(matcher, "Gadgets arrived in Freedonia not long ago") == {
        ("delivery-reported", "for", False)
    }
    assert found(matcher, "Gadgets arrived in Freedonia, not in Ruritania") == {
        ("delivery-reported", "for", False)
    }


@pytest.mark.parametrize(
    "text",
    [
        "The gadget contract with Freedonia has not been signed",
        "The gadget contract with Freedonia has still not materialised",
        "The gadget contract with Freedonia is not expected before 2030",
        "The gadget contract with Freedonia has yet to be approved by parliament",
        "The gadget contract with Freedonia is no longer in force",
    ],
)
def test_a_trailing_negation_of_occurrence_means_no_evidence(matcher: Matcher, text: str) -> None:
    assert found(matcher, text) == set()


def test_a_trailing_negation_of_another_predicate_leaves_the_claim(matcher: Matcher) -> None:
    # What the contract will not do is said of a contract that exists.
    assert found(matcher, "The gadget contract with Freedonia will not affect prices") == {
        ("deal", "for", False)
    }
    assert found(matcher, "The gadget contract with Freedonia does not cover spare parts") == {
        ("deal", "for", False)
    }
    assert found(matcher, "The gadget contract with Freedonia has yet to draw criticism") == {
        ("deal", "for", False)
    }


@pytest.mark.parametrize(
    "title",
    [
        "Freedonia confirmed it received the gadgets – media",
        "Freedonia confirmed it received the gadgets, sources say",
        "Freedonia confirmed it received the gadgets, according to local reports",
        "Report: Freedonia confirmed it received the gadgets",
        "Руритания поставила гаджеты Фридонии — СМИ",
    ],
)
def test_a_headline_attributed_to_unnamed_sources_is_a_report(matcher: Matcher, title: str) -> None:
    # The attribution stands in a clause of its own but hedges the headline's claim:
    # a confirmation that unnamed media relay is a report, not a confirmation.
    assert found(matcher, title, signal="gadget-exports") == {("delivery-reported", "for", True)}


@pytest.mark.parametrize(
    "title",
    [
        "Freedonia confirmed it received the gadgets - Freedonia Gazette",
        "Freedonia confirmed it received the gadgets, state media says",
        "Freedonia confirmed it received the gadgets, the ministry says",
    ],
)
def test_a_headline_attributed_to_a_named_outlet_is_not_hedged(
    matcher: Matcher, title: str
) -> None:
    assert found(matcher, title, signal="gadget-exports") == {("delivered", "for", False)}


def test_an_attribution_leaves_states_that_are_not_reports_or_confirmations(
    matcher: Matcher,
) -> None:
    # A state that neither takes hedged reports nor stands above one that does: the
    # headline's "sources say" is how the report is cited, and the report stands.
    assert found(matcher, "Freedonia signed the Big Pipe deal, sources say", signal="big-pipe") == {
        ("agreement", "for", False)
    }


def test_names_listed_with_a_comma_are_one_subject(matcher: Matcher) -> None:
    signed = {("agreement", "for", False)}
    text = "Big Pipe approved as Freedonia, Ruritania sign the deal"
    assert found(matcher, text, signal="big-pipe") == signed
    # A comma after a lower-case word still ends the clause.
    text = "Big Pipe approved in principle, officials sign other deals"
    assert found(matcher, text, signal="big-pipe") == set()


def test_a_passive_infinitive_after_an_agreement_word_still_lies_ahead(
    matcher: Matcher,
) -> None:
    text = "The Big Pipe contract is to be signed next spring"
    assert found(matcher, text, signal="big-pipe") == {("talks", "for", True)}
    text = "The Big Pipe deal to be signed in May"
    assert found(matcher, text, signal="big-pipe") == {("talks", "for", True)}


def test_a_name_hyphenated_to_a_modifier_is_not_an_actor(matcher: Matcher) -> None:
    text = "The Brigadoon-led Round Table summit was skipped"
    assert found(matcher, text, signal="club-attendance") == set()
    text = "Brigadoon skipped the Round Table summit"
    assert found(matcher, text, signal="club-attendance") == {("Brigadoon", "absent", "for", False)}


def test_a_signal_may_replace_a_cue_list(tmp_path: Path) -> None:
    text = "Arthur says he will not travel to Minsk for the Round Table summit"
    trip = CLUB.replace("away: [skip*, stay* away, not attend]", "away: [not travel]")
    (tmp_path / "club.yaml").write_text(textwrap.dedent(trip), encoding="utf-8")
    assert found(Matcher(load_signals([tmp_path], builtin=PACK)), text) == {
        ("Brigadoon", "absent", "for", False)
    }
    # With its own `place` cues, "to Minsk" is where Arthur is not going.
    own = trip.replace("  meeting:", "  place: [in, at, to]\n  meeting:")
    (tmp_path / "club.yaml").write_text(textwrap.dedent(own), encoding="utf-8")
    assert found(Matcher(load_signals([tmp_path], builtin=PACK)), text) == {
        ("Avalon", "absent", "for", False)
    }


def test_a_negated_subject_word_in_a_clause_of_its_own_leaves_the_claim(tmp_path: Path) -> None:
    freeze = """
    id: club-freeze
    question: Do the members take part in the club's work?
    initial: taking-part
    entities: {Avalon: [Avalon*]}
    subject: article(club) and entity
    terms:
      club: [Round Table]
      frozen: [no longer takes part]
    states:
      frozen: {when: "near(entity, frozen, 12) and near(frozen, club, 12)"}
    """
    text = "Avalon has not left the Round Table but no longer takes part in its work"
    (tmp_path / "freeze.yaml").write_text(textwrap.dedent(freeze), encoding="utf-8")
    assert found(Matcher(load_signals([tmp_path], builtin=PACK)), text) == {
        ("Avalon", "frozen", "for", False)
    }
    # The club's name is the subject's word: a negation there, in a clause where no other
    # word of the claim stands, is not the claim's. Not the subject's word, it undoes it.
    unnamed = freeze.replace("    subject: article(club) and entity\n", "")
    (tmp_path / "freeze.yaml").write_text(textwrap.dedent(unnamed), encoding="utf-8")
    assert found(Matcher(load_signals([tmp_path], builtin=PACK)), text) == set()


def test_a_name_right_before_a_venue_cue_is_a_place(matcher: Matcher) -> None:
    # "Minsk" is nearer to "skip" than "Arthur", but "the Minsk summit" is where it is held.
    text = "Arthur, angry at the Round Table, will skip the Minsk summit"
    assert found(matcher, text, signal="club-attendance") == {("Avalon", "absent", "for", False)}


def test_title_and_summary_both_count(matcher: Matcher) -> None:
    assert found(matcher, "Good news for Freedonia", "The gadgets arrived in Freedonia.") == {
        ("delivery-reported", "for", False)
    }


def test_condition_holds_within_one_sentence(matcher: Matcher) -> None:
    text = "Gadgets are popular. Freedonia received a visitor."
    assert found(matcher, text) == set()


def test_evidence_records_words_offsets_and_sentence(matcher: Matcher) -> None:
    summary = "Markets fell. Reportedly, gadgets arrived in Freedonia on Monday."
    [obs] = matcher.match("Weekly roundup", summary)
    assert isinstance(obs, Observation)
    assert (obs.signal, obs.entity, obs.state, obs.hedged) == (
        "gadget-exports",
        None,
        "delivery-reported",
        True,
    )
    for evidence in obs.evidence:
        assert evidence.field == "summary"
        assert summary[evidence.start : evidence.end] == evidence.text
        assert evidence.sentence == "Reportedly, gadgets arrived in Freedonia on Monday."
    assert {(e.term, e.text) for e in obs.evidence} == {
        ("rumour", "Reportedly"),
        ("gadget", "gadgets"),
        ("delivery", "arrived"),
        ("freedonia", "Freedonia"),
    }
    assert obs.to_json()["evidence"][0]["start"] == summary.index("Reportedly")


def test_entity_is_recorded_and_nearest_wins(matcher: Matcher) -> None:
    text = "Arthur will skip the Round Table summit hosted by Lancelot"
    assert found(matcher, text, signal="club-attendance") == {("Avalon", "absent", "for", False)}


def test_entity_after_a_place_cue_is_a_place(matcher: Matcher) -> None:
    # "Minsk" is nearer to "skip" than "Arthur" is, but it is where the meeting is.
    text = "Arthur, angry at the Round Table, will skip the meeting in Minsk"
    assert found(matcher, text, signal="club-attendance") == {("Avalon", "absent", "for", False)}


def test_entities_listed_together_share_the_state(matcher: Matcher) -> None:
    text = "Avalon, Brigadoon and Camelot skip the Round Table meeting"
    assert {e for e, *_ in found(matcher, text, signal="club-attendance")} == {
        "Avalon",
        "Brigadoon",
        "Camelot",
    }


def test_a_list_closed_by_and_ends_before_the_next_clause(matcher: Matcher) -> None:
    # "Avalon and Brigadoon" is the list of those present; the comma after it starts the
    # clause of the one who stayed away.
    text = "At the Round Table summit were Avalon and Brigadoon, Camelot skipped it"
    assert {e for e, *_ in found(matcher, text, signal="club-attendance")} == {"Camelot"}


def test_article_scope_term(matcher: Matcher) -> None:
    # The club is named in the title, the absence in the summary.
    assert found(
        matcher, "Round Table in crisis", "Lancelot skipped the summit.", signal="club-attendance"
    ) == {("Camelot", "absent", "for", False)}
    assert (
        found(matcher, "Crisis", "Lancelot skipped the summit.", signal="club-attendance") == set()
    )


def test_place_entities(matcher: Matcher) -> None:
    assert found(matcher, "Knights arrived in Brigadoon", signal="missions") == {
        ("Brigadoon", "stationed", "for", False)
    }


def test_before_asks_for_word_order(matcher: Matcher) -> None:
    assert found(matcher, "Avalon leaves the Round Table", signal="exits") == {
        ("Avalon", "left", "for", False)
    }
    assert found(matcher, "Round Table knights left Brigadoon", signal="exits") == set()


def test_hyphenated_and_possessive_words_count_once(matcher: Matcher) -> None:
    # Three words between "leaves" and "Round Table", not five.
    text = "Avalon leaves the long-standing well-known Round Table"
    assert found(matcher, text, signal="exits") == {("Avalon", "left", "for", False)}
    text = "Avalon leaves the old, slow and tired Round Table"
    assert found(matcher, text, signal="exits") == set()


def test_absent_anchor_words_mean_no_observations(matcher: Matcher) -> None:
    assert matcher.match("Nothing to see here", "Weather and sport.") == []
    assert matcher.match("", "") == []


def test_aggregate_signals_are_not_matched(tmp_path: Path) -> None:
    (tmp_path / "club.yaml").write_text(textwrap.dedent(CLUB), encoding="utf-8")
    (tmp_path / "away.yaml").write_text(
        "id: away\nquestion: q\ninitial: none\n"
        "aggregate: {of: club-attendance, away: [absent]}\n"
        "states:\n  some: {min_count: 1}\n",
        encoding="utf-8",
    )
    matcher = Matcher(load_signals([tmp_path], builtin=PACK))
    signals = {o.signal for o in matcher.match("Arthur skips the Round Table summit", "")}
    assert signals == {"club-attendance"}


_VOCABULARY = (
    "Freedonia gadgets arrived delivered not no may reportedly will Arthur Minsk skips Round"
    " Table summit in denies bought , . ? ! <p> </p> &amp; не гаджеты поставила"
)
_WORDS = st.sampled_from(_VOCABULARY.split(" "))


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORDS, max_size=25).map(" ".join), st.text(max_size=80))
def test_any_text_gives_valid_evidence(matcher: Matcher, words: str, junk: str) -> None:
    title, summary = html_to_text(words), html_to_text(junk + " " + words)
    for obs in matcher.match(title, summary):
        assert obs.polarity in ("for", "against")
        for e in obs.evidence:
            text = title if e.field == "title" else summary
            assert text[e.start : e.end] == e.text and e.text
            assert e.text in e.sentence


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_html_to_text_never_fails_and_collapses_spaces(junk: str) -> None:
    text = html_to_text(junk)
    assert "  " not in text and "\r" not in text and text == text.strip()


# --------------------------------------------------------------------------- text


def test_html_to_text_strips_tags_and_unescapes() -> None:
    html = '<p>Iran &amp; Russia</p><p><a href="x">sign</a> a&nbsp;deal</p><script>x()</script>'
    assert html_to_text(html) == "Iran & Russia\nsign a deal"


def test_html_to_text_handles_escaped_and_broken_markup() -> None:
    assert html_to_text("&lt;p&gt;Hello &amp;amp; bye&lt;/p&gt;") == "Hello & bye"
    assert html_to_text("<div><b>unclosed <i>tags") == "unclosed tags"
    assert html_to_text("a < b and c > d") == "a < b and c > d"
    assert html_to_text("") == ""
    assert html_to_text("  plain\t text  ") == "plain text"


def test_paragraphs_end_sentences(matcher: Matcher) -> None:
    text = html_to_text("<p>Talks went on</p><p>Iran received jets</p>")
    assert matcher.sentences(text) == ["Talks went on", "Iran received jets"]


def test_sentence_splitting_keeps_abbreviations(matcher: Matcher) -> None:
    assert matcher.sentences("Mr. Putin met the U.S. envoy. He left! «Да». 3 jets") == [
        "Mr. Putin met the U.S. envoy.",
        "He left!",
        "«Да».",
        "3 jets",
    ]


def test_hedge_before_a_subordinate_clause_is_not_the_matches(matcher: Matcher) -> None:
    # The seeking is someone else's; the arrival is reported as fact.
    text = "Ruritania seeks answers after gadgets arrived in Freedonia"
    assert found(matcher, text) == {("delivery-reported", "for", False)}
    # With no conjunction between, the hedge qualifies the match.
    text = "Ruritania seeks to have gadgets arrive in Freedonia"
    assert ("delivery-reported", "for", False) not in found(matcher, text)


def test_negation_before_background_does_not_undo_the_claim(matcher: Matcher) -> None:
    # "Round Table" is found by article(): a negation before it is about something else.
    text = "Camelot will not host the Round Table dinner, as Lancelot will skip the summit"
    assert found(matcher, text, signal="club-attendance") == {("Camelot", "absent", "for", False)}
    # A negation before the sentence's own words still does.
    text = "Lancelot will not skip the Round Table summit"
    assert found(matcher, text, signal="club-attendance") == set()


def test_agreement_with_a_partner_before_its_infinitive(matcher: Matcher) -> None:
    # "to build" is what was agreed, not a signing still to come.
    text = "Ruritania signed a deal with Avalon to build Big Pipe"
    assert found(matcher, text, signal="big-pipe") == {("agreement", "for", False)}


def test_reported_will_is_a_future_not_a_hedge(matcher: Matcher) -> None:
    # A deal accepts planned reports: "said ... would be delivered" is one.
    def states(text: str) -> set[str]:
        return {o.state for o in matcher.match(text, "") if o.signal == "gadget-exports"}

    assert states("Officials said Freedonia would buy gadgets") == {"deal"}
    # Without a reporting verb, or with a condition, "would" stays a hedge.
    assert states("Freedonia would buy gadgets") == {"none"}
    assert states("Officials said Freedonia would buy gadgets if prices fell") == {"none"}


@pytest.mark.parametrize(
    "text",
    [
        # Inside the match, after it, or at the sentence's end: the aside's commas end
        # no clause, so the hedge reads as it does without them.
        "Gadgets have, possibly, arrived in Freedonia",
        "Gadgets, probably, arrived in Freedonia",
        "Gadgets arrived in Freedonia, it seems.",
        "Gadgets arrived in Freedonia (apparently) on Monday",
        "Gadgets arrived in Freedonia — most likely — on Monday",
        "Гаджеты, по всей видимости, поставили Фридонии",
        "Гаджеты, вероятно, поставили Фридонии",
        "Гаджеты поставили Фридонии, судя по всему.",
    ],
)
def test_a_hedge_making_up_an_aside_hedges_the_clause_around_it(
    matcher: Matcher, text: str
) -> None:
    assert found(matcher, text) == {("deal", "for", True)}


def test_a_hedge_aside_after_the_match_hedges_an_entitys_report(matcher: Matcher) -> None:
    text = "Round Table summit: Arthur will stay away, apparently, in protest"
    assert found(matcher, text, signal="club-attendance") == {("Avalon", "attending", "for", True)}


@pytest.mark.parametrize(
    "text",
    [
        # A hedge with more in its aside is said of that: the reason, not the delivery.
        "Gadgets arrived in Freedonia, probably from Ruritania",
        "Гаджеты поставили Фридонии, судя по всему из Руритании",
        # An attribution is no hedge (a trailing one has rules of its own).
        "Gadgets have, according to sources, arrived in Freedonia",
        "Gadgets have, the ministry said, arrived in Freedonia",
        "Гаджеты поставили Фридонии, по словам источника",
        # A hedge aside in another clause.
        "Gadgets arrived in Freedonia; Ruritania, probably, will send more",
        "Гаджеты поставили Фридонии; Руритания, видимо, поставит ещё",
        # Commas around something else.
        "Gadgets, the latest model, arrived in Freedonia",
        "Gadgets, not surprisingly, arrived in Freedonia",
        "Гаджеты, новейшая модель, поставили Фридонии",
    ],
)
def test_other_asides_leave_the_report_standing(matcher: Matcher, text: str) -> None:
    assert found(matcher, text) == {("delivery-reported", "for", False)}


def test_a_hedge_aside_with_more_in_it_stays_a_clause_of_its_own(matcher: Matcher) -> None:
    text = "Round Table summit: Arthur will stay away, apparently in protest"
    assert found(matcher, text, signal="club-attendance") == {("Avalon", "absent", "for", False)}


@pytest.fixture(scope="module")
def pack_matcher() -> Matcher:
    return Matcher(load_signals([PACK], builtin=PACK))


@pytest.mark.parametrize(
    "text",
    [
        "Мирзоян, по всей видимости, пропустит СМИД ОДКБ — источник",
        "Мирзоян пропустит (по всей видимости) СМИД ОДКБ",
        "Мирзоян пропустит СМИД ОДКБ, по всей видимости.",
        "Пашинян, вероятно, пропустит саммит ОДКБ",
        "Pashinyan, it seems, will skip the CSTO summit",
        "Tokayev, apparently, will not travel to Minsk for the CSTO summit",
        "Tokayev will not travel to Minsk for the CSTO summit, it seems.",
        "Pashinyan will skip the CSTO summit — probably — in protest",
        "Пашинян, схоже, пропустить саміт ОДКБ",
        "Пашинян, імовірно, пропустить саміт ОДКБ",
        "Пашинян пропустить, схоже, саміт ОДКБ у Мінську",
        "Пашинян пропустить саміт ОДКБ у Мінську, мабуть.",
    ],
)
def test_a_hedged_absence_in_the_pack_is_no_absence(pack_matcher: Matcher, text: str) -> None:
    states = {
        (o.state, o.hedged)
        for o in pack_matcher.match(text, "")
        if o.signal == "csto-summit-attendance"
    }
    # Hedged, the absence evidences only its weaker state, the status quo.
    assert states == {("attending", True)}


@pytest.mark.parametrize(
    "text",
    [
        "Мирзоян пропустит СМИД ОДКБ, скорее всего по политическим причинам",
        "Мирзоян пропустит СМИД ОДКБ; Лавров, видимо, приедет",
        "Мирзоян, глава МИД Армении, пропустит СМИД ОДКБ",
        "Pashinyan skipped the CSTO summit, apparently to protest the bloc's inaction",
        "Pashinyan skipped the CSTO summit; Tokayev, apparently, will go",
        "Пашинян пропустить саміт ОДКБ у Мінську, за словами джерела",
        "Пашинян пропустить саміт ОДКБ; Токаєв, імовірно, приїде",
    ],
)
def test_an_absence_beside_other_asides_stands(pack_matcher: Matcher, text: str) -> None:
    observations = pack_matcher.match(text, "")
    assert {(o.signal, o.entity, o.state, o.hedged) for o in observations} == {
        ("csto-summit-attendance", "Armenia", "absent", False)
    }
