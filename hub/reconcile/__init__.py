"""Day-end reconciliation (对账): the day report per channel, partner statements in,
discrepancies out. Money is integer fen everywhere inside; only outputs show yuan."""
