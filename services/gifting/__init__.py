"""The gifting service: validates and prices gift requests, confirms them once the wallet
answers, and keeps per-stream totals and leaderboards."""
