"""The starter config `allywatch init` writes: real public feeds on the watched topics."""

import secrets


def starter_config() -> str:
    """The starter config, with a fresh random secret for signing unsubscribe links."""
    return STARTER_CONFIG.replace("@SECRET@", secrets.token_hex(32))


STARTER_CONFIG = """\
# allywatch config. Relative paths are relative to this file's folder.
# Check it with `allywatch config check`; run with `allywatch run -v`.
database: sqlite:///allywatch.db
# Signal files or folders; `builtin` is the built-in pack. To add your own, keep it:
# signals: [builtin, my-signals]
poll_interval: 30m             # how often each source is polled (per source: interval)
alert_on_first_run: false      # the first run over a backlog records state quietly
feed_failure_alert_after: 24h  # a feed failing this long raises an alert; run exits 3
secret: @SECRET@  # signs unsubscribe links; keep it private

sources:
  # Wire services and regional outlets
  - {name: TASS, url: "https://tass.com/rss/v2.xml"}
  - {name: The Moscow Times, url: "https://www.themoscowtimes.com/rss/news"}
  - {name: Meduza, url: "https://meduza.io/rss/en/all"}
  - {name: Al Jazeera, url: "https://www.aljazeera.com/xml/rss/all.xml"}
  - {name: BBC World, url: "https://feeds.bbci.co.uk/news/world/rss.xml"}
  - {name: Eurasianet, url: "https://eurasianet.org/feed"}
  - {name: Kommersant, url: "https://www.kommersant.ru/RSS/news.xml"}
  - {name: Tehran Times, url: "https://www.tehrantimes.com/rss"}
  # News search feeds on the watched questions
  - {name: GN CSTO summit, google_news: "CSTO summit"}
  - {name: GN ODKB, google_news: "ОДКБ саммит", language: ru, region: RU}
  - {name: GN Su-35 Iran, google_news: "Su-35 Iran"}
  - {name: GN Power of Siberia 2, google_news: "\\"Power of Siberia 2\\""}
  - {name: GN Sila Sibiri 2, google_news: "\\"Сила Сибири 2\\"", language: ru, region: RU}
  - {name: GDELT CSTO, gdelt: "CSTO summit"}
  - {name: GDELT Su-35, gdelt: "Su-35 Iran"}
  - {name: GDELT PoS2, gdelt: "\\"Power of Siberia 2\\""}

# Email digests (see `allywatch subscribers`): set smtp to your mail server, or
# outbox to a folder. Login comes from the environment: ALLYWATCH_SMTP_USER and
# ALLYWATCH_SMTP_PASSWORD.
smtp: {host: localhost, port: 25, from: "allywatch <watch@localhost>", starttls: false}
outbox: null                   # a folder: write .eml files there instead of sending
"""
