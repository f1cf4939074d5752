"""The payout service: diamonds earned per gift, holds, conversion to cash, payouts."""
