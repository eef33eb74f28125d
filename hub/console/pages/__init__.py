"""The console's pages, one module each (``routes`` + ``NAV``); listed in
`hub.console.app.PAGES`."""
