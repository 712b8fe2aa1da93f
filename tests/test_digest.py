"""Composing digests: what a reader sees, what feed text cannot do to it, and when it is due."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import SMTP, default
from pathlib import Path

import pytest

from allywatch.alerts import schedule
from allywatch.alerts.digest import Composer, FeedProblem, SignalText, Unsubscribe, build_message
from allywatch.resources import builtin_dir
from allywatch.store.models import Alert

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
SIGNALS = {
    "csto-summit-attendance": SignalText("CSTO", "Which members skip CSTO summits?"),
    "su35-iran": SignalText("Su-35/Iran", "Has Russia delivered Su-35 fighters to Iran?"),
}
LINK = Unsubscribe(token="7.abc", url="https://watch.example.org/unsubscribe?token=7.abc")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'


def alert(
    alert_id: int,
    signal: str,
    to_state: str,
    *,
    entity: str = "",
    from_state: str = "none",
    evidence: list[dict] | None = None,
) -> Alert:
    return Alert(
        id=alert_id,
        signal=signal,
        entity=entity,
        from_state=from_state,
        to_state=to_state,
        severity="warning",
        at=datetime(2026, 3, 1, 14, 5, tzinfo=UTC),
        evidence=evidence
        if evidence is not None
        else [
            {
                "link": f"https://news.example.com/{alert_id}",
                "title": f"Headline {alert_id}",
                "outlet": "Example News",
                "published": "2026-03-01T13:00:00+00:00",
            }
        ],
    )


def compose(alerts: list[Alert], problems: list[FeedProblem] | None = None, **kw):
    composer = Composer(builtin_dir("templates"), SIGNALS, "allywatch <watch@example.org>")
    return composer.compose(
        subscriber_id=7,
        recipient="ann@example.org",
        alerts=alerts,
        feed_problems=problems or [],
        feeds_total=4,
        unsubscribe=kw.pop("unsubscribe", LINK),
        timezone=kw.pop("timezone", "Europe/Berlin"),
        now=NOW,
        **kw,
    )


def sent_form(digest):
    """The message as a receiving client parses it."""
    raw = build_message(digest, "allywatch <watch@example.org>", NOW).as_bytes(policy=SMTP)
    return message_from_bytes(raw, policy=default)


CSTO_AND_SU35 = [
    alert(1, "csto-summit-attendance", "absent", entity="Kazakhstan", from_state="attending"),
    alert(2, "su35-iran", "delivery-reported"),
]


def test_the_subject_says_what_changed() -> None:
    digest = compose(CSTO_AND_SU35)
    assert digest.subject == "CSTO: Kazakhstan absent; Su-35/Iran: delivery reported"


def test_the_subject_names_each_entitys_latest_state_and_stays_short() -> None:
    many = [
        alert(1, "csto-summit-attendance", "absent", entity="Kazakhstan"),
        alert(2, "csto-summit-attendance", "suspended", entity="Kazakhstan"),
        alert(3, "csto-summit-attendance", "absent", entity="Armenia"),
    ] + [alert(10 + n, f"signal-{n:02d}-with-a-rather-long-id", "changed") for n in range(12)]
    subject = compose(many).subject
    assert subject.startswith("CSTO: Kazakhstan suspended, Armenia absent; signal-00")
    assert len(subject) <= 160 and subject.endswith("more)")


def test_each_alert_shows_question_states_time_and_articles() -> None:
    digest = compose(CSTO_AND_SU35)
    for part in (digest.text, digest.html):
        assert "Which members skip CSTO summits?" in part
        assert "Has Russia delivered Su-35 fighters to Iran?" in part
        assert "Kazakhstan" in part and "attending" in part and "absent" in part
        assert "2026-03-01 15:05 CET" in part  # 14:05 UTC in the subscriber's zone
        assert "Example News" in part and "2026-03-01" in part and "Headline 2" in part
    assert "attending -> absent" in digest.text
    assert '<a href="https://news.example.com/2"' in digest.html


def test_severity_is_said_in_words_not_only_by_colour() -> None:
    critical = alert(1, "su35-iran", "delivered")
    critical.severity = "critical"
    digest = compose([critical, alert(2, "csto-summit-attendance", "absent", entity="Armenia")])
    assert "[critical] none -> delivered" in digest.text
    assert "[warning] Armenia: none -> absent" in digest.text
    words = [w for w in ("critical", "warning") if f">{w}</span>" in digest.html]
    assert words == ["critical", "warning"]


def test_feed_text_cannot_inject_markup_or_script() -> None:
    evidence = [
        {"link": "javascript:alert(1)", "title": HOSTILE, "outlet": HOSTILE, "published": "x"},
        {"link": 'https://ok.example.com/"><script>', "title": "t", "outlet": "o"},
    ]
    digest = compose([alert(1, "su35-iran", "deal", entity=HOSTILE, evidence=evidence)])
    html = digest.html
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert 'href="https://ok.example.com/&#34;&gt;&lt;script&gt;"' in html
    assert HOSTILE in digest.text  # the plain-text part shows the words as they are


def test_feed_text_cannot_inject_headers() -> None:
    sneaky = "Kazakhstan\r\nBcc: everyone@example.net\r\n\r\n<b>body</b>"
    digest = compose([alert(1, "csto-summit-attendance", "absent", entity=sneaky)])
    message = sent_form(digest)
    assert message["Bcc"] is None
    assert message["Subject"].strip() == (
        "CSTO: Kazakhstan Bcc: everyone@example.net <b>body</b> absent"
    )
    assert message.get_body(("html",)) is not None  # the structure is intact


def test_the_html_needs_nothing_from_outside_the_message() -> None:
    html = compose(CSTO_AND_SU35).html.lower()
    for outside in ("<link", "<style", "<script", "src=", "url(", "@import"):
        assert outside not in html


def test_the_message_has_both_parts_and_unsubscribe_headers() -> None:
    message = sent_form(compose(CSTO_AND_SU35))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert str(message["List-Unsubscribe"]).strip() == f"<{LINK.url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert LINK.url in message.get_body(("plain",)).get_content()


def test_without_a_base_url_unsubscribing_is_by_reply() -> None:
    message = sent_form(compose(CSTO_AND_SU35, unsubscribe=Unsubscribe(token="7.abc", url=None)))
    assert str(message["List-Unsubscribe"]).strip() == (
        "<mailto:watch@example.org?subject=unsubscribe%207.abc>"
    )
    assert message["List-Unsubscribe-Post"] is None
    assert '"unsubscribe 7.abc"' in message.get_body(("plain",)).get_content()


def test_message_id_is_stable_for_the_same_alerts() -> None:
    first = compose(CSTO_AND_SU35).message_id
    assert compose(list(reversed(CSTO_AND_SU35))).message_id == first
    assert compose(CSTO_AND_SU35[:1]).message_id != first
    assert first.startswith("<digest.7.") and first.endswith("@example.org>")


def test_failing_feeds_get_one_line() -> None:
    since = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    digest = compose(CSTO_AND_SU35, [FeedProblem("TASS", since), FeedProblem("GN Su-35", None)])
    line = "2 of 4 feeds failing: TASS since 2026-02-28, GN Su-35"
    assert line in digest.text and line in digest.html
    assert "feeds failing" not in compose(CSTO_AND_SU35).text


def test_all_quiet_note() -> None:
    digest = compose([], quiet_since=NOW - timedelta(days=7))
    assert digest.quiet and digest.alert_ids == ()
    assert digest.subject == "All quiet: no watched signal changed"
    assert "None of your watched signals changed since 2026-02-23" in digest.text


# --- when digests are due ------------------------------------------------------


def test_daily_slot_follows_local_time_across_daylight_saving() -> None:
    winter = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)  # 07:30 CET
    summer = datetime(2026, 7, 2, 5, 30, tzinfo=UTC)  # 07:30 CEST
    zone = "Europe/Berlin"
    assert schedule.latest_slot("daily", "07:00", zone, 0, winter) == datetime(
        2026, 3, 2, 6, 0, tzinfo=UTC
    )
    assert schedule.latest_slot("daily", "07:00", zone, 0, summer) == datetime(
        2026, 7, 2, 5, 0, tzinfo=UTC
    )
    early = datetime(2026, 3, 2, 5, 59, tzinfo=UTC)  # 06:59 local: yesterday's slot
    assert schedule.latest_slot("daily", "07:00", zone, 0, early) == datetime(
        2026, 3, 1, 6, 0, tzinfo=UTC
    )


def test_weekly_slot_is_on_the_chosen_weekday() -> None:
    wednesday = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    friday = schedule.parse_weekday("Friday")
    assert schedule.latest_slot("weekly", "09:30", "UTC", friday, wednesday) == datetime(
        2026, 2, 27, 9, 30, tzinfo=UTC
    )


def test_a_late_run_sends_one_digest_for_the_missed_slots() -> None:
    last = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    kwargs = {"created_at": last - timedelta(days=9), "last_digest_at": last}
    assert schedule.is_due("daily", "06:00", "UTC", 0, now=last + timedelta(days=3), **kwargs)
    three_days_on = last + timedelta(days=3, minutes=1)
    assert not schedule.is_due(
        "daily", "06:00", "UTC", 0, now=three_days_on, created_at=last, last_digest_at=three_days_on
    )


@pytest.mark.parametrize(
    ("parse", "bad"),
    [
        (schedule.parse_send_time, "7am"),
        (schedule.parse_send_time, "24:00"),
        (schedule.parse_timezone, "Mars/Olympus_Mons"),
        (schedule.parse_timezone, "../../etc/passwd"),
        (schedule.parse_weekday, "someday"),
        (schedule.check_cadence, "hourly"),
    ],
)
def test_bad_schedule_values_are_refused_by_name(parse, bad: str) -> None:
    with pytest.raises(schedule.ScheduleError, match=bad.replace(".", r"\.")):
        parse(bad)


# --- what it looks like --------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (apt-get install chromium), so the HTML is not rendered",
)
def test_the_html_digest_renders_in_a_browser(tmp_path: Path) -> None:
    since = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    digest = compose(CSTO_AND_SU35, [FeedProblem("TASS", since)])
    page = tmp_path / "digest.html"
    page.write_text(digest.html, encoding="utf-8")
    png = tmp_path / "digest.png"
    screenshot(page, png, tmp_path)
    blank = tmp_path / "blank.png"
    (tmp_path / "blank.html").write_text("<html><body></body></html>", encoding="utf-8")
    screenshot(tmp_path / "blank.html", blank, tmp_path)
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (800, 900)
    # A blank page compresses to almost nothing; a rendered digest does not.
    assert len(data) > 5 * len(blank.read_bytes())


def screenshot(page: Path, png: Path, tmp_path: Path) -> None:
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=800,900",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
