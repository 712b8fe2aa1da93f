"""A minimal valid signal file, for tests about loading and validation rather than matching."""

WIDGET_LAUNCH = """\
id: widget-launch
question: Has the widget been launched?
initial: quiet
terms:
  widget: [widget*]
  launch: [launch*]
states:
  launched: {when: "widget and launch", min_sources: 1}
"""
