"""The wallet service: the single writer of coin balances. It credits purchases and promo
grants, debits gifts (with lot provenance, limits and age checks), and claws back refunded or
charged-back purchases."""
