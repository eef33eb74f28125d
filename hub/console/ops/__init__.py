"""What the console's operations pages read and do — order search, the order's timeline,
refund and cancel with their audit line, double-use conflicts — kept apart from the page
handlers (`hub.console.pages`) so each side stays small and the queries are testable
without a browser."""
