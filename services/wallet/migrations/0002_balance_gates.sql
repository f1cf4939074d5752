-- What gates spending, next to the balance, so people (and support) can see why a gift failed.
ALTER TABLE wallet_balances
    ADD COLUMN adult               boolean,
    ADD COLUMN daily_limit_coins   bigint,
    ADD COLUMN monthly_limit_coins bigint;
