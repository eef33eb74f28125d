"""The staff console: server-rendered pages for venue staff at ``/console``.

aiohttp-jinja2 templates, htmx and ECharts vendored under ``static/vendor`` (nothing
fetched at run time), server-sent events for live figures, gettext catalogs (Simplified
Chinese first, English second), staff accounts with roles, an encrypted session cookie,
CSRF tokens, login throttling and an audit log of every staff action.

How to add a page, a route, a role check, a CSRF-protected form, a translated string or
an SSE stream: ``hub/console/README.md``. A page imports what it needs from
`hub.console.web`.
"""
