"""Exact arithmetic of diamonds and cash: every rounding is explicit and named here.

Rates are Decimals; amounts are ints. Products are computed in a context wide enough that
they are never rounded (Inexact is trapped, so a lost digit would raise, not pass), and only
then brought to an integer with an explicit ROUND_FLOOR or ROUND_CEILING. No float anywhere.

Who keeps the remainder:
- earning:    diamonds = floor(coins * diamonds_per_coin); the fraction stays with the platform.
- conversion: gross = floor(diamonds * minor_per_diamond); the fraction stays with the platform.
- fee:        ceil(gross * fee_ppm / 1_000_000) + fee_fixed_minor, capped at gross, so the
              platform never pays to convert and net = gross - fee is never negative.
- clawback:   see clawed_diamonds: cumulative floor, so a gift clawed in full loses exactly all
              of its diamonds however many purchases funded it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, Inexact, InvalidOperation

PPM = 1_000_000


def _exact_product(amount: int, rate: Decimal) -> Decimal:
    digits = len(str(abs(amount))) + len(rate.as_tuple().digits) + 2
    context = Context(prec=digits, traps=[Inexact, InvalidOperation])
    return context.multiply(Decimal(amount), rate)


def floor_mul(amount: int, rate: Decimal) -> int:
    """floor(amount * rate), exactly."""
    assert amount >= 0 and rate >= 0, (amount, rate)
    return int(_exact_product(amount, rate).to_integral_value(rounding=ROUND_FLOOR))


def ceil_ppm(amount: int, ppm: int) -> int:
    """ceil(amount * ppm / 1_000_000), exactly."""
    assert amount >= 0 and 0 <= ppm <= PPM, (amount, ppm)
    fraction = Decimal(ppm).scaleb(-6)  # exact: a shift of the decimal point
    return int(_exact_product(amount, fraction).to_integral_value(rounding=ROUND_CEILING))


def diamonds_for(coins: int, diamonds_per_coin: Decimal) -> int:
    """Diamonds a gift of `coins` earns: rounded down (3 coins at 0.5 earn 1 diamond)."""
    return floor_mul(coins, diamonds_per_coin)


@dataclass(frozen=True)
class Conversion:
    """Cash for a number of diamonds, in the currency's minor unit: net = gross - fee."""

    gross_minor: int
    fee_minor: int
    net_minor: int


def convert(diamonds: int, minor_per_diamond: Decimal, fee_ppm: int,
            fee_fixed_minor: int) -> Conversion:
    """gross rounded down, fee rounded up and capped at gross (see the module docstring)."""
    gross_minor = floor_mul(diamonds, minor_per_diamond)
    fee_minor = min(gross_minor, ceil_ppm(gross_minor, fee_ppm) + fee_fixed_minor)
    return Conversion(gross_minor, fee_minor, gross_minor - fee_minor)


def clawed_diamonds(gift_diamonds: int, gift_coins: int, clawed_coins_before: int,
                    clawed_diamonds_before: int, funded_coins: int) -> tuple[int, int]:
    """(coins, diamonds) to claw from a gift now that `funded_coins` of it lost their funding.

    Pro rata with a cumulative floor: after the clawback, the gift has lost
    floor(gift_diamonds * all clawed coins / gift_coins) diamonds in total, and this clawback
    takes the difference. For a single clawback that is floor(gift_diamonds * funded / coins),
    rounded in the creator's favour; when the last funding coin is clawed the total is exactly
    gift_diamonds, so remainders never pile up across several purchases funding one gift.
    Coins beyond what the gift had left are ignored (a gift cannot lose more than it earned).
    """
    assert gift_coins > 0 and 0 <= clawed_coins_before <= gift_coins, (gift_coins,
                                                                       clawed_coins_before)
    coins = min(funded_coins, gift_coins - clawed_coins_before)
    total_after = gift_diamonds * (clawed_coins_before + coins) // gift_coins
    diamonds = total_after - clawed_diamonds_before
    assert diamonds >= 0, (gift_diamonds, gift_coins, clawed_coins_before, clawed_diamonds_before)
    return coins, diamonds
